import { describe, expect, it } from 'vitest';
import { evaluate, globMatch, IamPolicyError, type IamPolicy } from './iam-evaluate.ts';

const ctx = { 'cognito-identity.amazonaws.com:sub': 'r:abc', 'aws:ResourceTag/owner': 'r:abc', 'aws:TagKeys': ['owner', 'name'] };
const req = (action: string, resource = 'arn:aws:ec2:r::snapshot/snap-1', context: Record<string, string | string[] | undefined> = ctx) => ({ action, resource, context });
const pol = (...Statement: IamPolicy['Statement'][]): IamPolicy[] => Statement.map((s) => ({ Version: '2012-10-17', Statement: s }));

describe('IAM evaluation', () => {
  it('denies by default, allows on a matching statement, and an explicit Deny wins', () => {
    expect(evaluate([], req('ebs:GetSnapshotBlock')).reason).toBe('implicit-deny');
    const allow = { Effect: 'Allow' as const, Action: 'ebs:Get*', Resource: 'arn:aws:ec2:*::snapshot/*' };
    expect(evaluate(pol(allow), req('EBS:getSnapshotBlock')).allowed).toBe(true);
    expect(evaluate(pol(allow), req('ebs:PutSnapshotBlock')).allowed).toBe(false);
    expect(evaluate(pol(allow, { Sid: 'No', Effect: 'Deny', Action: '*', Resource: '*' }), req('ebs:GetSnapshotBlock'))).toEqual({ allowed: false, reason: 'explicit-deny', sid: 'No' });
  });

  it('substitutes policy variables; a missing one never matches', () => {
    const s = { Effect: 'Allow' as const, Action: '*', Resource: '*', Condition: { StringEquals: { 'aws:ResourceTag/owner': '${cognito-identity.amazonaws.com:sub}' } } };
    expect(evaluate(pol(s), req('x:y')).allowed).toBe(true);
    expect(evaluate(pol(s), req('x:y', '*', { 'aws:ResourceTag/owner': 'r:abc' })).allowed).toBe(false);
    expect(evaluate(pol(s), req('x:y', '*', { ...ctx, 'aws:ResourceTag/owner': 'r:other' })).allowed).toBe(false);
  });

  it('handles IfExists, Null, negation and the set operators', () => {
    const c = (Condition: Record<string, Record<string, unknown>>) => evaluate(pol({ Effect: 'Allow', Action: '*', Resource: '*', Condition }), req('a:b')).allowed;
    expect(c({ StringEqualsIfExists: { 'aws:RequestTag/x': 'v' } })).toBe(true);
    expect(c({ StringEquals: { 'aws:RequestTag/x': 'v' } })).toBe(false);
    expect(c({ StringNotEquals: { 'aws:RequestTag/x': 'v' } })).toBe(true);
    expect(c({ Null: { 'aws:RequestTag/x': 'true' } })).toBe(true);
    expect(c({ Null: { 'aws:ResourceTag/owner': 'true' } })).toBe(false);
    expect(c({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['owner', 'name', 'more'] } })).toBe(true);
    expect(c({ 'ForAllValues:StringEquals': { 'aws:TagKeys': ['owner'] } })).toBe(false);
    expect(c({ 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['owner'] } })).toBe(true);
    expect(c({ 'ForAnyValue:StringLike': { 'aws:TagKeys': ['x*'] } })).toBe(false);
    expect(c({ StringLike: { 'aws:ResourceTag/owner': 'r:*' } })).toBe(true);
    expect(() => c({ NumericLessThan: { 'ebs:VolumeSize': '5' } })).toThrow(IamPolicyError);
  });

  it('matches globs without exponential backtracking', () => {
    expect(globMatch('a*b?d', 'axxxbcd')).toBe(true);
    expect(globMatch('a*b?d', 'axxxbd')).toBe(false);
    expect(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(20000))).toBe(false);
  });
});
