#!/bin/sh
# Deploys Blockport to your AWS account: the stack (bucket, CloudFront relay, identity pool, roles), then the site.
# Usage: deploy/deploy.sh [stack-name]      (region from AWS_REGION or your AWS CLI profile)
#        deploy/deploy.sh --validate [FILE]  (checks the template only: its references, cfn-lint offline, then
#                                            CloudFormation if reachable; exits 1 when any check finds a problem)
set -eu
TEMPLATE=deploy/blockport.json
if [ "${1:-}" = "--validate" ] && [ -n "${2:-}" ]; then
  case "$2" in /*) TEMPLATE="$2" ;; *) TEMPLATE="$PWD/$2" ;; esac
fi
cd "$(dirname "$0")/.."

if [ "${1:-}" = "--validate" ]; then
  node deploy/check-template.mjs "$TEMPLATE" || exit 1
  if command -v cfn-lint >/dev/null 2>&1; then
    # cfn-lint reads AWS_REGION / AWS_DEFAULT_REGION and refuses an empty one: name the region (us-east-1 when unset).
    lint_region="${AWS_REGION:-${AWS_DEFAULT_REGION:-us-east-1}}"
    if cfn-lint --regions "$lint_region" -- "$TEMPLATE"; then echo "cfn-lint: $TEMPLATE is valid"
    else echo "cfn-lint found problems in $TEMPLATE (listed above): fix them before deploying." >&2; exit 1; fi
  else echo "cfn-lint is not installed (pip install cfn-lint), so its offline check was skipped."; fi
  if ! command -v aws >/dev/null 2>&1; then
    echo "The AWS CLI is not installed, so CloudFormation's own check was skipped."
    exit 0
  fi
  if out="$(aws cloudformation validate-template --cli-connect-timeout 5 --template-body "file://$TEMPLATE" 2>&1)"; then
    echo "CloudFormation: $TEMPLATE is valid"
  else
    case "$out" in
      *ValidationError*) echo "CloudFormation refused $TEMPLATE: $out" >&2; exit 1 ;;
      *) echo "CloudFormation could not validate the template (no network or no credentials?); the checks above stand." ;;
    esac
  fi
  exit 0
fi

STACK="${1:-blockport}"
REGION="${AWS_REGION:-$(aws configure get region || true)}"
if [ -z "$REGION" ]; then echo "Set AWS_REGION (the region your snapshots go to), e.g. AWS_REGION=eu-west-1 $0" >&2; exit 2; fi
UNAUTH="${BLOCKPORT_ALLOW_UNAUTHENTICATED:-false}"

echo "1/4 Deploying stack $STACK in $REGION (takes a few minutes the first time: CloudFront)…"
aws cloudformation deploy --region "$REGION" --stack-name "$STACK" --template-file "$TEMPLATE" \
  --capabilities CAPABILITY_IAM --parameter-overrides "AllowUnauthenticatedIdentities=$UNAUTH" --no-fail-on-empty-changeset

output() {
  aws cloudformation describe-stacks --region "$REGION" --stack-name "$STACK" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
BUCKET="$(output SiteBucketName)"; DIST="$(output DistributionId)"; POOL="$(output IdentityPoolId)"; URL="$(output SiteUrl)"
ISSUER="$(output SignInIssuer)"; CLIENT="$(output SignInClientId)"; USERS="$(output UserPoolId)"

echo "2/4 Building the site…"
npm run build
# The site's default connection: AWS through this distribution's relay. No secret in it, only public ids.
printf '{"kind":"aws","region":"%s","identityPoolId":"%s","endpoint":{"mode":"relay","basePath":""},"signIn":{"issuer":"%s","clientId":"%s"}}\n' "$REGION" "$POOL" "$ISSUER" "$CLIENT" > dist/blockport-config.json

echo "3/4 Uploading dist/ to s3://$BUCKET…"
aws s3 sync dist/ "s3://$BUCKET/" --delete --region "$REGION"

echo "4/4 Invalidating the CloudFront cache…"
aws cloudfront create-invalidation --distribution-id "$DIST" --paths '/*' >/dev/null

echo "Done. Open $URL (identity pool $POOL, region $REGION, relay mode)."
echo "People sign in with accounts of user pool $USERS: add them in the Cognito console (or deploy with AllowSelfSignUp=true)."
