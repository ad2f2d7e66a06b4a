import { describe, expect, it } from 'vitest';
import { globMatch, type GlobSteps } from './glob.ts';

describe('EC2 filter wildcards', () => {
  it('matches * and ? as EC2 does', () => {
    expect(globMatch('blockport', 'blockport')).toBe(true);
    expect(globMatch('block?ort', 'blockport')).toBe(true);
    expect(globMatch('block?ort', 'blockprt')).toBe(false);
    expect(globMatch('*port', 'blockport')).toBe(true);
    expect(globMatch('block*', 'blockport')).toBe(true);
    expect(globMatch('b*k*t', 'blockport')).toBe(true);
    expect(globMatch('b*z*t', 'blockport')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a*a', 'a')).toBe(false);
    expect(globMatch('*ab*ab', 'xabyab')).toBe(true);
    expect(globMatch('?*?', 'ab')).toBe(true);
    expect(globMatch('?*?', 'a')).toBe(false);
    expect(globMatch('a.c', 'abc')).toBe(false);
    expect(globMatch('(a+)+$', '(a+)+$')).toBe(true);
  });

  it('does bounded work on a pattern that makes a backtracking regex explode', () => {
    const value = 'a'.repeat(5000);
    const pattern = '*a*a*a*a*a*a*b';
    const steps: GlobSteps = { n: 0 };
    expect(globMatch(pattern, value, steps)).toBe(false);
    expect(steps.n).toBeLessThanOrEqual((pattern.length + 1) * (value.length + 1));
    const hit: GlobSteps = { n: 0 };
    expect(globMatch(pattern, `${value}b`, hit)).toBe(true);
    expect(hit.n).toBeLessThanOrEqual((pattern.length + 1) * (value.length + 2));
  });
});
