#!/usr/bin/env python3
"""Conformance of the Blockport EBS emulator, driven by boto3 (a client we did not write).

Usage: BLOCKPORT_ADMIN_TOKEN=<token> python3 server/conformance/test_ebs_boto3.py <url>
The emulator must run with its default key pair (test/test) and a short completion delay; the admin token is the one
it printed at start (or gave with --admin-token).
Covers the reference tables (shared/reference/ebs-direct-api.md): happy paths, constraints, state rules, lineage,
paging, tokens, ClientToken, signature failures, Cognito-issued credentials, the EC2 view, CORS.
Prints one line per check and exits 1 if any failed.
"""
import base64
import hashlib
import json
import os
import sys
import time
import urllib.error
import urllib.request

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

from checks import check, finish

URL = sys.argv[1].rstrip('/')
REGION = 'us-east-1'
BLOCK = 524288
CFG = Config(parameter_validation=False, retries={'max_attempts': 1, 'mode': 'standard'})



def client(service, key='test', secret='test', token=None, config=CFG):
    return boto3.client(service, endpoint_url=URL, region_name=REGION, aws_access_key_id=key,
                        aws_secret_access_key=secret, aws_session_token=token, config=config)


ebs = client('ebs')
ec2 = client('ec2')


def block(fill):
    b = bytearray(BLOCK)
    b[0] = fill
    b[BLOCK - 1] = fill
    return bytes(b)


def digest(b):
    return hashlib.sha256(b).digest()


def b64(b):
    return base64.b64encode(digest(b)).decode()


def aggregate(blocks):
    return base64.b64encode(hashlib.sha256(b''.join(digest(b) for b in blocks)).digest()).decode()


def error_of(fn, *args, **kw):
    try:
        fn(*args, **kw)
    except ClientError as e:
        return e
    raise AssertionError('expected a ClientError')


def expect_error(e, code, status=None, reason=None, message=None, contains=None):
    err = e.response['Error']
    got_status = e.response['ResponseMetadata']['HTTPStatusCode']
    assert err['Code'] == code, f'code {err["Code"]} != {code}: {err}'
    if status is not None:
        assert got_status == status, f'status {got_status} != {status}'
    if reason is not None:
        assert e.response.get('Reason') == reason, f'reason {e.response.get("Reason")} != {reason}: {e.response}'
    if message is not None:
        assert err.get('Message') == message, f'message {err.get("Message")!r} != {message!r}'
    if contains is not None:
        assert contains in err.get('Message', ''), f'{contains!r} not in {err.get("Message")!r}'
    return e


def put(sid, index, data, checksum=None, length=BLOCK, algorithm='SHA256', **kw):
    return ebs.put_snapshot_block(SnapshotId=sid, BlockIndex=index, BlockData=data, DataLength=length,
                                  Checksum=checksum or b64(data), ChecksumAlgorithm=algorithm, **kw)


def state_of(sid):
    return ec2.describe_snapshots(SnapshotIds=[sid])['Snapshots'][0]


def wait_state(sid, want, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        s = state_of(sid)
        if s['State'] == want:
            return s
        time.sleep(0.05)
    raise AssertionError(f'{sid} did not reach {want}: {state_of(sid)}')


def make(blocks, parent=None, **start):
    if parent:
        start['ParentSnapshotId'] = parent
    sid = ebs.start_snapshot(VolumeSize=start.pop('VolumeSize', 1), **start)['SnapshotId']
    idx = sorted(blocks)
    for i in idx:
        put(sid, i, blocks[i])
    r = ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=len(idx), Checksum=aggregate([blocks[i] for i in idx]),
                              ChecksumAlgorithm='SHA256', ChecksumAggregationMethod='LINEAR')
    assert r['Status'] == 'pending', r
    wait_state(sid, 'completed')
    return sid


A, B, C = block(1), block(2), block(3)
ZERO = bytes(BLOCK)


# ---------------------------------------------------------------- happy paths
@check('StartSnapshot returns the snapshot object')
def _():
    r = ebs.start_snapshot(VolumeSize=2, Description='conformance', Tags=[{'Key': 'k', 'Value': 'v'}], Timeout=60)
    assert r['SnapshotId'].startswith('snap-') and all(c in '0123456789abcdef' for c in r['SnapshotId'][5:])
    assert r['Status'] == 'pending' and r['BlockSize'] == BLOCK and r['VolumeSize'] == 2
    assert r['Description'] == 'conformance' and r['Tags'] == [{'Key': 'k', 'Value': 'v'}]
    assert len(r['OwnerId']) == 12 and r['StartTime'].year >= 2024
    assert r['ResponseMetadata']['HTTPStatusCode'] == 201
    assert r['ResponseMetadata']['HTTPHeaders'].get('x-amzn-requestid')


@check('PutSnapshotBlock answers 201 with the computed checksum; Get returns bytes and checksum headers')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    r = put(sid, 3, A, Progress=50)
    assert r['ResponseMetadata']['HTTPStatusCode'] == 201
    assert r['Checksum'] == b64(A) and r['ChecksumAlgorithm'] == 'SHA256'
    c = ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)
    assert c['Status'] == 'pending' and c['ResponseMetadata']['HTTPStatusCode'] == 202
    wait_state(sid, 'completed')
    assert ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)['Status'] == 'completed'
    lst = ebs.list_snapshot_blocks(SnapshotId=sid)
    assert [b['BlockIndex'] for b in lst['Blocks']] == [3] and lst['BlockSize'] == BLOCK and lst['VolumeSize'] == 1
    assert lst.get('NextToken') is None
    assert lst['ExpiryTime'].timestamp() > time.time() + 6 * 86400
    g = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=3, BlockToken=lst['Blocks'][0]['BlockToken'])
    assert g['BlockData'].read() == A and g['DataLength'] == BLOCK
    assert g['Checksum'] == b64(A) and g['ChecksumAlgorithm'] == 'SHA256'
    h = g['ResponseMetadata']['HTTPHeaders']
    assert h['x-amz-checksum'] == b64(A) and h['x-amz-data-length'] == str(BLOCK)


@check('LINEAR aggregate: raw digests, ascending, zero blocks included; empty snapshot = SHA256 of nothing')
def _():
    make({5: B, 0: ZERO, 2: A})
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    empty = base64.b64encode(hashlib.sha256(b'').digest()).decode()
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=0, Checksum=empty, ChecksumAlgorithm='SHA256',
                          ChecksumAggregationMethod='LINEAR')
    wait_state(sid, 'completed')
    assert ebs.list_snapshot_blocks(SnapshotId=sid)['Blocks'] == []


@check('A text (base64-of-base64) aggregate makes the snapshot fail: "Checksum mismatch for snapshot"')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    put(sid, 0, A)
    put(sid, 1, B)
    text = base64.b64encode(hashlib.sha256((b64(A) + b64(B)).encode()).digest()).decode()
    assert ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=2, Checksum=text, ChecksumAlgorithm='SHA256',
                                 ChecksumAggregationMethod='LINEAR')['Status'] == 'pending'
    s = wait_state(sid, 'error')
    assert s['StateMessage'] == 'Checksum mismatch for snapshot', s
    assert ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=2)['Status'] == 'error'
    expect_error(error_of(ebs.list_snapshot_blocks, SnapshotId=sid), 'ResourceNotFoundException', 404, 'SNAPSHOT_NOT_FOUND')


@check('ChangedBlocksCount counts distinct indices; a wrong count errors the snapshot')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    put(sid, 0, A)
    put(sid, 0, A)  # identical retry succeeds
    put(sid, 1, A)
    put(sid, 1, B)  # overwrite: last wins
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=2, Checksum=aggregate([A, B]), ChecksumAlgorithm='SHA256',
                          ChecksumAggregationMethod='LINEAR')
    wait_state(sid, 'completed')
    blocks = ebs.list_snapshot_blocks(SnapshotId=sid)['Blocks']
    g = ebs.get_snapshot_block(SnapshotId=sid, BlockIndex=1, BlockToken=blocks[1]['BlockToken'])
    assert g['BlockData'].read() == B
    bad = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    put(bad, 0, A)
    put(bad, 0, A)
    ebs.complete_snapshot(SnapshotId=bad, ChangedBlocksCount=2)
    assert wait_state(bad, 'error')['StateMessage'] == 'Changed blocks count mismatch for snapshot'


# ---------------------------------------------------------------- constraints (checked first, shape 2)
def expect_constraint(fn, member, **kw):
    e = error_of(fn, **kw)
    expect_error(e, 'ValidationException', 400)
    msg = e.response['Error']['Message']
    assert msg.startswith('1 validation error detected: ') or 'validation errors detected' in msg, msg
    assert f"at '{member}'" in msg, msg
    assert e.response.get('Reason') is None, e.response
    return msg


@check('StartSnapshot constraints: VolumeSize, Description, ClientToken, Timeout, KmsKeyArn, Tags, ParentSnapshotId')
def _():
    expect_constraint(ebs.start_snapshot, 'volumeSize', VolumeSize=0)
    expect_constraint(ebs.start_snapshot, 'volumeSize', VolumeSize=65537)
    expect_constraint(ebs.start_snapshot, 'description', VolumeSize=1, Description='x' * 256)
    expect_constraint(ebs.start_snapshot, 'clientToken', VolumeSize=1, ClientToken='has space')
    expect_constraint(ebs.start_snapshot, 'timeout', VolumeSize=1, Timeout=9)
    expect_constraint(ebs.start_snapshot, 'timeout', VolumeSize=1, Timeout=4321)
    expect_constraint(ebs.start_snapshot, 'kmsKeyArn', VolumeSize=1, Encrypted=True, KmsKeyArn='not-an-arn')
    expect_constraint(ebs.start_snapshot, 'parentSnapshotId', VolumeSize=1, ParentSnapshotId='snap-XYZ')
    msg = expect_constraint(ebs.start_snapshot, 'tags', VolumeSize=1, Tags=[{'Key': f'k{i}', 'Value': 'v'} for i in range(51)])
    assert 'less than or equal to 50' in msg, msg
    expect_constraint(ebs.start_snapshot, 'tags.1.member.key', VolumeSize=1, Tags=[{'Key': 'k' * 128, 'Value': 'v'}])


@check('The constraint message names value, member and rule exactly')
def _():
    msg = expect_constraint(ebs.start_snapshot, 'volumeSize', VolumeSize=0)
    assert msg == "1 validation error detected: Value '0' at 'volumeSize' failed to satisfy constraint: Member must have value greater than or equal to 1", msg


@check('PutSnapshotBlock constraints: snapshot id, index, checksum, progress, and constraints before state')
def _():
    expect_constraint(put, 'snapshotId', sid='snap-NOPE', index=0, data=A)
    expect_constraint(put, 'blockIndex', sid='snap-0123', index=-1, data=A)
    expect_constraint(put, 'checksum', sid='snap-0123', index=0, data=A, checksum='not base64!')
    expect_constraint(put, 'progress', sid='snap-0123', index=0, data=A, Progress=101)


@check('PutSnapshotBlock semantics: length, short body, algorithm, index extent, checksum mismatch, missing snapshot')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    expect_error(error_of(put, sid, 0, A[:1000], checksum=b64(A[:1000]), length=1000), 'ValidationException', 400, 'INVALID_BLOCK',
                 'Block data length 1000 is not valid, expected 524288')
    expect_error(error_of(put, sid, 0, A[:1000], checksum=b64(A)), 'ValidationException', 400, 'INVALID_PARAMETER_VALUE',
                 'Failed to read block data')
    expect_error(error_of(put, sid, 0, A, algorithm='MD5'), 'ValidationException', 400, 'INVALID_PARAMETER_VALUE',
                 "Unsupported Checksum Algorithm 'MD5', supported algorithms are SHA256")
    expect_error(error_of(put, sid, 2048, A), 'ValidationException', 400, 'INVALID_BLOCK',
                 'Block index 2048 is beyond the volume size extent')
    e = expect_error(error_of(put, sid, 0, A, checksum=b64(B)), 'InvalidSignatureException', 403)
    assert e.response['Error']['Message'] == (
        f'The value passed in as x-amz-Checksum does not match the computed checksum. Computed checksum: {b64(A)} expected checksum: {b64(B)}')
    expect_error(error_of(put, 'snap-0123456789abcdef0', 0, A), 'ResourceNotFoundException', 404, 'SNAPSHOT_NOT_FOUND',
                 "The snapshot 'snap-0123456789abcdef0' does not exist.")


@check('CompleteSnapshot: checksum headers all or nothing, aggregation LINEAR only, count ≥ 0')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    expect_error(error_of(ebs.complete_snapshot, SnapshotId=sid, ChangedBlocksCount=0, Checksum=b64(A)),
                 'ValidationException', 400, 'INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Checksum algorithm is missing.')
    expect_error(error_of(ebs.complete_snapshot, SnapshotId=sid, ChangedBlocksCount=0, ChecksumAlgorithm='SHA256'),
                 'ValidationException', 400, 'INVALID_PARAMETER_VALUE', 'Invalid parameter combination. Snapshot checksum is missing.')
    expect_constraint(ebs.complete_snapshot, 'checksumAggregationMethod', SnapshotId=sid, ChangedBlocksCount=0, Checksum=b64(A),
                      ChecksumAlgorithm='SHA256', ChecksumAggregationMethod='TREE')
    expect_constraint(ebs.complete_snapshot, 'changedBlocksCount', SnapshotId=sid, ChangedBlocksCount=-1)
    expect_error(error_of(ebs.complete_snapshot, SnapshotId='snap-0123456789abcdef0', ChangedBlocksCount=0),
                 'ResourceNotFoundException', 404, 'SNAPSHOT_NOT_FOUND')


@check('List constraints: MaxResults 100–10000, PageToken pattern, StartingBlockIndex ≥ 0')
def _():
    sid = make({0: A})
    expect_constraint(ebs.list_snapshot_blocks, 'maxResults', SnapshotId=sid, MaxResults=99)
    expect_constraint(ebs.list_snapshot_blocks, 'maxResults', SnapshotId=sid, MaxResults=10001)
    expect_constraint(ebs.list_snapshot_blocks, 'startingBlockIndex', SnapshotId=sid, StartingBlockIndex=-1)
    expect_constraint(ebs.list_snapshot_blocks, 'nextToken', SnapshotId=sid, NextToken='bad token!')


# ---------------------------------------------------------------- state rules
@check('Only completed snapshots can be read; a put on a completed one is refused')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    put(sid, 0, A)
    expect_error(error_of(ebs.list_snapshot_blocks, SnapshotId=sid), 'ResourceNotFoundException', 404, 'SNAPSHOT_NOT_FOUND',
                 f"The snapshot '{sid}' does not exist.")
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)
    wait_state(sid, 'completed')
    expect_error(error_of(put, sid, 0, A), 'ValidationException', 400, 'INVALID_SNAPSHOT_ID', 'Snapshot is already completed')


# ---------------------------------------------------------------- lineage
@check('Lineage: child inherits, overrides; changed blocks parent↔child and siblings; unrelated refused')
def _():
    parent = make({0: A, 1: B, 4: C})
    child = make({1: C, 6: A}, parent=parent, VolumeSize=2)
    lst = ebs.list_snapshot_blocks(SnapshotId=child)
    assert [b['BlockIndex'] for b in lst['Blocks']] == [0, 1, 4, 6], lst['Blocks']
    assert lst['VolumeSize'] == 2
    tok = {b['BlockIndex']: b['BlockToken'] for b in lst['Blocks']}
    assert ebs.get_snapshot_block(SnapshotId=child, BlockIndex=0, BlockToken=tok[0])['BlockData'].read() == A
    assert ebs.get_snapshot_block(SnapshotId=child, BlockIndex=1, BlockToken=tok[1])['BlockData'].read() == C
    ch = ebs.list_changed_blocks(FirstSnapshotId=parent, SecondSnapshotId=child)
    rows = [(c['BlockIndex'], c.get('FirstBlockToken') is not None, c.get('SecondBlockToken') is not None) for c in ch['ChangedBlocks']]
    assert rows == [(1, True, True), (6, False, True)], rows
    assert ch['VolumeSize'] == 2 and ch['BlockSize'] == BLOCK
    back = ebs.list_changed_blocks(FirstSnapshotId=child, SecondSnapshotId=parent)
    assert [(c['BlockIndex'], c.get('SecondBlockToken') is not None) for c in back['ChangedBlocks']] == [(1, True), (6, False)]
    assert back['VolumeSize'] == 1
    sibling = make({4: C, 5: B}, parent=parent)
    sib = ebs.list_changed_blocks(FirstSnapshotId=child, SecondSnapshotId=sibling)
    assert [c['BlockIndex'] for c in sib['ChangedBlocks']] == [1, 4, 5, 6], sib['ChangedBlocks']
    other = make({0: A})
    expect_error(error_of(ebs.list_changed_blocks, FirstSnapshotId=other, SecondSnapshotId=child), 'ValidationException', 400,
                 'UNRELATED_SNAPSHOTS', f'{other} and {child} are not related')
    expect_error(error_of(ebs.list_changed_blocks, SecondSnapshotId=child), 'ValidationException', 400, 'INVALID_SNAPSHOT_ID',
                 'First snapshot should not be empty or null')


@check('Lineage: the aggregate excludes inherited blocks; a parent must be completed and exist')
def _():
    parent = make({0: A, 1: B})
    child = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=parent)['SnapshotId']
    put(child, 1, B)  # identical to the parent: still counted
    ebs.complete_snapshot(SnapshotId=child, ChangedBlocksCount=1, Checksum=aggregate([B]), ChecksumAlgorithm='SHA256',
                          ChecksumAggregationMethod='LINEAR')
    wait_state(child, 'completed')
    assert [c['BlockIndex'] for c in ebs.list_changed_blocks(FirstSnapshotId=parent, SecondSnapshotId=child)['ChangedBlocks']] == [1]
    pending = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    expect_error(error_of(ebs.start_snapshot, VolumeSize=1, ParentSnapshotId=pending), 'ValidationException', 400,
                 'INVALID_SNAPSHOT_ID', f'Source snapshot ({pending}) is not complete.')
    expect_error(error_of(ebs.start_snapshot, VolumeSize=1, ParentSnapshotId='snap-0123456789abcdef0'), 'ResourceNotFoundException', 404)


@check('Encryption: Encrypted with a parent refused; KmsKeyArn echoed; an encrypted parent passes its key on')
def _():
    arn = 'arn:aws:kms:us-east-1:111122223333:key/0b1c2d3e-aaaa-bbbb-cccc-000000000001'
    r = ebs.start_snapshot(VolumeSize=1, Encrypted=True, KmsKeyArn=arn)
    assert r['KmsKeyArn'] == arn, r
    ebs.complete_snapshot(SnapshotId=r['SnapshotId'], ChangedBlocksCount=0)
    wait_state(r['SnapshotId'], 'completed')
    expect_error(error_of(ebs.start_snapshot, VolumeSize=1, ParentSnapshotId=r['SnapshotId'], Encrypted=True), 'ValidationException', 400)
    child = ebs.start_snapshot(VolumeSize=1, ParentSnapshotId=r['SnapshotId'])
    assert child['KmsKeyArn'] == arn, child
    assert state_of(r['SnapshotId'])['Encrypted'] is True


# ---------------------------------------------------------------- paging
@check('Paging: full pages hold MaxResults, the last has no NextToken, StartingBlockIndex inclusive, NextToken overrides it')
def _():
    sid = ebs.start_snapshot(VolumeSize=1)['SnapshotId']
    digests = b64(A)
    for i in range(205):
        put(sid, i * 3, A, checksum=digests)
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=205)
    wait_state(sid, 'completed')
    seen, token, pages = [], None, []
    while True:
        kw = {'NextToken': token} if token else {}
        p = ebs.list_snapshot_blocks(SnapshotId=sid, MaxResults=100, **kw)
        pages.append(len(p['Blocks']))
        seen += [b['BlockIndex'] for b in p['Blocks']]
        token = p.get('NextToken')
        if not token:
            break
    assert pages == [100, 100, 5], pages
    assert seen == [i * 3 for i in range(205)]
    p = ebs.list_snapshot_blocks(SnapshotId=sid, MaxResults=100, StartingBlockIndex=9)
    assert p['Blocks'][0]['BlockIndex'] == 9
    p2 = ebs.list_snapshot_blocks(SnapshotId=sid, MaxResults=100, StartingBlockIndex=0, NextToken=p['NextToken'])
    assert p2['Blocks'][0]['BlockIndex'] == 309, p2['Blocks'][0]
    empty = ebs.list_snapshot_blocks(SnapshotId=sid, StartingBlockIndex=2000)
    assert empty['Blocks'] == [] and empty.get('NextToken') is None
    other = make({0: A})
    expect_error(error_of(ebs.list_snapshot_blocks, SnapshotId=other, NextToken=p['NextToken']), 'ValidationException', 400,
                 'INVALID_PAGE_TOKEN', f"The pagination token {p['NextToken']} is invalid.")
    expect_error(error_of(ebs.list_snapshot_blocks, SnapshotId=sid, NextToken='AAAA'), 'ValidationException', 400, 'INVALID_PAGE_TOKEN')
    ch = ebs.list_changed_blocks(FirstSnapshotId=other, SecondSnapshotId=other, MaxResults=100)
    assert ch['ChangedBlocks'] == [] and ch.get('NextToken') is None


# ---------------------------------------------------------------- tokens
@check('Block tokens are bound to snapshot, index and content: foreign, moved, forged and hole tokens refused')
def _():
    s1 = make({0: A, 1: B})
    s2 = make({0: A})
    t1 = {b['BlockIndex']: b['BlockToken'] for b in ebs.list_snapshot_blocks(SnapshotId=s1)['Blocks']}
    for sid, idx, tok in [(s2, 0, t1[0]), (s1, 1, t1[0]), (s1, 0, 'AAAA'), (s1, 5, t1[0])]:
        expect_error(error_of(ebs.get_snapshot_block, SnapshotId=sid, BlockIndex=idx, BlockToken=tok), 'ValidationException', 400,
                     'INVALID_BLOCK_TOKEN', f'The block token {tok} is invalid.')


# ---------------------------------------------------------------- ClientToken
@check('ClientToken: same parameters replay the snapshot; different parameters conflict (409, no Reason)')
def _():
    token = f'conf-{time.time_ns()}'
    a = ebs.start_snapshot(VolumeSize=1, ClientToken=token, Description='d')
    b = ebs.start_snapshot(VolumeSize=1, ClientToken=token, Description='d')
    assert a['SnapshotId'] == b['SnapshotId']
    e = expect_error(error_of(ebs.start_snapshot, VolumeSize=2, ClientToken=token, Description='d'), 'ConflictException', 409,
                     message='Current request does not match request stored with this token.')
    assert e.response.get('Reason') is None


# ---------------------------------------------------------------- signatures
@check('SigV4: wrong secret, unknown key, unsigned request, skewed clock are refused with the 403 errors')
def _():
    expect_error(error_of(client('ebs', secret='wrong').start_snapshot, VolumeSize=1), 'InvalidSignatureException', 403,
                 contains='The request signature we calculated does not match the signature you provided.')
    expect_error(error_of(client('ebs', key='AKIDUNKNOWN').start_snapshot, VolumeSize=1), 'UnrecognizedClientException', 403,
                 message='The security token included in the request is invalid.')
    unsigned = boto3.client('ebs', endpoint_url=URL, region_name=REGION,
                            config=Config(signature_version=botocore.UNSIGNED, parameter_validation=False, retries={'max_attempts': 1}))
    expect_error(error_of(unsigned.start_snapshot, VolumeSize=1), 'MissingAuthenticationTokenException', 403,
                 message='Missing Authentication Token')
    skewed = client('ebs')

    real = botocore.auth.SigV4Auth._modify_request_before_signing

    def shifted(self, request):
        real(self, request)
        old = time.strftime('%Y%m%dT%H%M%SZ', time.gmtime(time.time() - 3600))
        request.headers.replace_header('X-Amz-Date', old) if 'X-Amz-Date' in request.headers else None
        request.context['timestamp'] = old
    try:
        botocore.auth.SigV4Auth._modify_request_before_signing = shifted
        e = error_of(skewed.start_snapshot, VolumeSize=1)
    finally:
        botocore.auth.SigV4Auth._modify_request_before_signing = real
    expect_error(e, 'InvalidSignatureException', 403, contains='Signature expired')


@check('SigV4 on EC2: unknown key → AuthFailure, wrong secret → SignatureDoesNotMatch (XML errors)')
def _():
    expect_error(error_of(client('ec2', key='AKIDUNKNOWN').describe_snapshots), 'AuthFailure', 401)
    expect_error(error_of(client('ec2', secret='wrong').describe_snapshots), 'SignatureDoesNotMatch', 403)


# ---------------------------------------------------------------- Cognito Identity
def admin(path, body=None):
    token = os.environ.get('BLOCKPORT_ADMIN_TOKEN')
    if not token:
        raise SystemExit('Set BLOCKPORT_ADMIN_TOKEN to the admin token the emulator printed at start.')
    headers = {'Authorization': f'Bearer {token}', 'Content-Type': 'application/json'}
    req = urllib.request.Request(f'{URL}/__admin/{path}', data=None if body is None else json.dumps(body).encode(),
                                 method='GET' if body is None else 'POST', headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


@check('Encryption by default: StartSnapshot without Encrypted answers sse-ebs and the default key; EC2 shows Encrypted')
def _():
    assert ebs.start_snapshot(VolumeSize=1)['SseType'] == 'none'
    admin('config', {'encryptionByDefault': True})
    try:
        r = ebs.start_snapshot(VolumeSize=1)
        assert r['SseType'] == 'sse-ebs', r
        assert r['KmsKeyArn'].startswith('arn:aws:kms:') and ':key/' in r['KmsKeyArn'], r
        s = state_of(r['SnapshotId'])
        assert s['Encrypted'] is True and s['KmsKeyId'] == r['KmsKeyArn'], s
    finally:
        admin('config', {'encryptionByDefault': False})
    assert ebs.start_snapshot(VolumeSize=1)['SseType'] == 'none'


@check('Cognito: pools managed with a signature; GetId/GetCredentialsForIdentity unsigned; issued keys pass SigV4 on EBS and EC2')
def _():
    cog = client('cognito-identity')
    pool = cog.create_identity_pool(IdentityPoolName='conformance pool', AllowUnauthenticatedIdentities=True)
    pid = pool['IdentityPoolId']
    assert pid.startswith(f'{REGION}:'), pid
    assert cog.describe_identity_pool(IdentityPoolId=pid)['IdentityPoolName'] == 'conformance pool'
    assert any(p['IdentityPoolId'] == pid for p in cog.list_identity_pools(MaxResults=60)['IdentityPools'])
    anon = boto3.client('cognito-identity', endpoint_url=URL, region_name=REGION,
                        config=Config(signature_version=botocore.UNSIGNED, retries={'max_attempts': 1}))
    ident = anon.get_id(IdentityPoolId=pid)['IdentityId']
    assert anon.get_id(IdentityPoolId=pid)['IdentityId'] == ident
    creds = anon.get_credentials_for_identity(IdentityId=ident)['Credentials']
    assert creds['AccessKeyId'].startswith('ASIA') and creds['SessionToken']
    assert 3500 < creds['Expiration'].timestamp() - time.time() <= 3601
    e2 = client('ebs', creds['AccessKeyId'], creds['SecretKey'], creds['SessionToken'])
    # The deploy template's per-person policy is enforced for these keys: untagged is refused, tagged with the owner is not.
    expect_error(error_of(e2.start_snapshot, VolumeSize=1), 'AccessDeniedException', 403)
    sid = e2.start_snapshot(VolumeSize=1, Tags=[{'Key': 'blockport-owner', 'Value': ident}])['SnapshotId']
    e2.put_snapshot_block(SnapshotId=sid, BlockIndex=0, BlockData=A, DataLength=BLOCK, Checksum=b64(A), ChecksumAlgorithm='SHA256')
    e2.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=1)
    c2 = client('ec2', creds['AccessKeyId'], creds['SecretKey'], creds['SessionToken'])
    assert c2.describe_snapshots(SnapshotIds=[sid])['Snapshots'][0]['SnapshotId'] == sid
    forged = client('ebs', creds['AccessKeyId'], creds['SecretKey'], 'forged-token')
    expect_error(error_of(forged.start_snapshot, VolumeSize=1), 'UnrecognizedClientException', 403)
    closed = cog.create_identity_pool(IdentityPoolName='closed', AllowUnauthenticatedIdentities=False)['IdentityPoolId']
    expect_error(error_of(anon.get_id, IdentityPoolId=closed), 'NotAuthorizedException', 400,
                 message='Unauthenticated access is not supported for this identity pool.')
    expect_error(error_of(anon.create_identity_pool, IdentityPoolName='x', AllowUnauthenticatedIdentities=True),
                 'MissingAuthenticationTokenException', 400)
    cog.delete_identity_pool(IdentityPoolId=closed)
    expect_error(error_of(cog.describe_identity_pool, IdentityPoolId=closed), 'ResourceNotFoundException', 400)


@check('Cognito: expired credentials are refused with ExpiredTokenException')
def _():
    cog = client('cognito-identity')
    pid = cog.create_identity_pool(IdentityPoolName='short lived', AllowUnauthenticatedIdentities=True)['IdentityPoolId']
    admin('config', {'credentialTtlSeconds': 1})
    try:
        ident = cog.get_id(IdentityPoolId=pid)['IdentityId']
        creds = cog.get_credentials_for_identity(IdentityId=ident)['Credentials']
    finally:
        admin('config', {'credentialTtlSeconds': 3600})
    time.sleep(1.2)
    expired = client('ebs', creds['AccessKeyId'], creds['SecretKey'], creds['SessionToken'])
    expect_error(error_of(expired.start_snapshot, VolumeSize=1), 'ExpiredTokenException', 403)


# ---------------------------------------------------------------- EC2 view
@check('EC2 DescribeSnapshots: by id, OwnerIds=self, status filters; fields; DeleteSnapshot')
def _():
    sid = ebs.start_snapshot(VolumeSize=3, Description='ec2 view', Tags=[{'Key': 'Name', 'Value': 'conf'}])['SnapshotId']
    s = state_of(sid)
    assert s['State'] == 'pending' and s['Progress'] == '0%' and s['VolumeSize'] == 3 and s['Encrypted'] is False, s
    assert s['Description'] == 'ec2 view' and s['Tags'] == [{'Key': 'Name', 'Value': 'conf'}] and s['VolumeId'] == 'vol-ffffffff'
    ebs.complete_snapshot(SnapshotId=sid, ChangedBlocksCount=0)
    s = wait_state(sid, 'completed')
    assert s['Progress'] == '100%'
    mine = ec2.describe_snapshots(OwnerIds=['self'], Filters=[{'Name': 'status', 'Values': ['completed']}])['Snapshots']
    assert sid in [x['SnapshotId'] for x in mine] and all(x['State'] == 'completed' for x in mine)
    pend = ec2.describe_snapshots(OwnerIds=['self'], Filters=[{'Name': 'status', 'Values': ['pending']}])['Snapshots']
    assert sid not in [x['SnapshotId'] for x in pend] and all(x['State'] == 'pending' for x in pend)
    ec2.delete_snapshot(SnapshotId=sid)
    expect_error(error_of(ec2.describe_snapshots, SnapshotIds=[sid]), 'InvalidSnapshot.NotFound', 400)
    expect_error(error_of(ec2.delete_snapshot, SnapshotId=sid), 'InvalidSnapshot.NotFound', 400)


# ---------------------------------------------------------------- CORS
def raw(method, path, headers, body=None):
    req = urllib.request.Request(URL + path, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}
    except urllib.error.HTTPError as e:
        return e.code, {k.lower(): v for k, v in e.headers.items()}


@check('CORS: preflight answered 2xx without routing; responses expose the checksum and error headers')
def _():
    status, h = raw('OPTIONS', '/snapshots/snap-0123/blocks/0', {
        'Origin': 'http://localhost:5173', 'Access-Control-Request-Method': 'PUT',
        'Access-Control-Request-Headers': 'authorization,content-type,x-amz-checksum,x-amz-checksum-algorithm,x-amz-content-sha256,'
                                          'x-amz-data-length,x-amz-date,x-amz-security-token,x-amz-user-agent,amz-sdk-invocation-id,amz-sdk-request'})
    assert 200 <= status < 300, status
    assert h['access-control-allow-origin'] in ('*', 'http://localhost:5173')
    assert 'PUT' in h['access-control-allow-methods']
    allowed = h['access-control-allow-headers'].lower()
    for need in ['authorization', 'x-amz-checksum', 'x-amz-date', 'x-amz-security-token', 'x-amz-content-sha256', 'amz-sdk-request']:
        assert need in allowed, need
    status, h = raw('POST', '/snapshots', {'Origin': 'http://localhost:5173', 'Content-Type': 'application/json'}, b'{}')
    assert status == 403
    exposed = h['access-control-expose-headers'].lower()
    for need in ['x-amz-checksum', 'x-amz-checksum-algorithm', 'x-amz-data-length', 'x-amzn-requestid', 'x-amzn-errortype']:
        assert need in exposed, need


finish()
