#!/usr/bin/env node
// The offline check deploy.sh --validate always runs (cfn-lint, when installed, goes further): the file is a JSON
// CloudFormation template, every resource has a type, and every Ref, Fn::GetAtt, Fn::Sub variable, Fn::If and
// Condition names something the template declares. Prints each problem as a sentence; exits 1 on any.
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

const PSEUDO = new Set(['AWS::AccountId', 'AWS::NotificationARNs', 'AWS::NoValue', 'AWS::Partition', 'AWS::Region', 'AWS::StackId', 'AWS::StackName', 'AWS::URLSuffix']);

/** The problems found in the template text (empty when it passes). */
export function templateProblems(text) {
  let t;
  try {
    t = JSON.parse(text);
  } catch (err) {
    return [`it is not JSON (${err.message}).`];
  }
  if (!t || typeof t !== 'object' || Array.isArray(t)) return ['it is not a JSON object.'];
  const out = [];
  if (t.AWSTemplateFormatVersion !== undefined && t.AWSTemplateFormatVersion !== '2010-09-09') {
    out.push(`AWSTemplateFormatVersion is ${JSON.stringify(t.AWSTemplateFormatVersion)}; CloudFormation knows only "2010-09-09".`);
  }
  const resources = t.Resources;
  if (!resources || typeof resources !== 'object' || !Object.keys(resources).length) return [...out, 'it has no Resources.'];
  const params = new Set(Object.keys(t.Parameters ?? {}));
  const conditions = new Set(Object.keys(t.Conditions ?? {}));
  const names = new Set([...Object.keys(resources), ...params, ...PSEUDO]);
  for (const [name, r] of Object.entries(resources)) {
    if (!r || typeof r.Type !== 'string' || !/^(AWS|Custom|Alexa)::\w+(::\w+)?/.test(r.Type)) out.push(`resource ${name} has no valid Type.`);
    if (r?.Condition !== undefined && !conditions.has(r.Condition)) out.push(`resource ${name} names the undeclared condition ${r.Condition}.`);
    for (const d of [r?.DependsOn ?? []].flat()) if (!(d in resources)) out.push(`resource ${name} depends on ${d}, which is not a resource.`);
  }
  const walk = (v, where) => {
    if (Array.isArray(v)) return v.forEach((x) => walk(x, where));
    if (!v || typeof v !== 'object') return;
    if (typeof v.Ref === 'string' && !names.has(v.Ref)) out.push(`${where}: Ref ${v.Ref} names no resource, parameter or pseudo parameter.`);
    const getAtt = v['Fn::GetAtt'];
    const target = Array.isArray(getAtt) ? getAtt[0] : typeof getAtt === 'string' ? getAtt.split('.')[0] : undefined;
    if (target !== undefined && !(target in resources)) out.push(`${where}: Fn::GetAtt names ${target}, which is not a resource.`);
    const sub = v['Fn::Sub'];
    const [subText, subVars] = typeof sub === 'string' ? [sub, {}] : Array.isArray(sub) ? [sub[0], sub[1] ?? {}] : [undefined, {}];
    if (typeof subText === 'string') {
      for (const m of subText.matchAll(/\$\{([^!}][^}]*)\}/g)) {
        const ref = m[1].split('.')[0];
        if (!names.has(ref) && !(ref in subVars)) out.push(`${where}: Fn::Sub variable \${${m[1]}} names nothing the template declares.`);
      }
    }
    if (Array.isArray(v['Fn::If']) && !conditions.has(v['Fn::If'][0])) out.push(`${where}: Fn::If names the undeclared condition ${v['Fn::If'][0]}.`);
    if (typeof v.Condition === 'string' && where.startsWith('Conditions') && !conditions.has(v.Condition)) out.push(`${where}: Condition ${v.Condition} is not declared.`);
    for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
  };
  for (const section of ['Conditions', 'Resources', 'Outputs']) walk(t[section] ?? {}, section);
  return out;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const file = process.argv[2];
  if (!file) {
    console.error('Usage: node deploy/check-template.mjs TEMPLATE.json');
    process.exit(2);
  }
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    console.error(`The template ${file} could not be read (${err.code ?? err.message}).`);
    process.exit(1);
  }
  const problems = templateProblems(text);
  for (const p of problems) console.error(`${file}: ${p}`);
  if (problems.length) process.exit(1);
  console.log(`template check: ${file} is a well-formed CloudFormation template (references resolve)`);
}
