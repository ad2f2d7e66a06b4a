import { describe, expect, it } from 'vitest';
import { ResumeError, UploadError } from '../../engine/api.ts';
import { ImageFormatError } from '../../images/types.ts';
import { actionLabel, toProblem } from './problem.ts';

describe('toProblem', () => {
  it('keeps the engine sentence, action and code', () => {
    expect(toProblem(new ResumeError('The file changed.', 'repick', 'file-changed'))).toEqual({ message: 'The file changed.', action: 'repick', code: 'file-changed' });
    expect(toProblem(new UploadError('Taken over.', 'taken-over', 'takeover'))).toEqual({ message: 'Taken over.', action: 'takeover', code: 'taken-over' });
  });
  it('passes image reader sentences through and offers a re-pick', () => {
    expect(toProblem(new ImageFormatError('This file is empty.', 'raw', 'empty'))).toEqual({ message: 'This file is empty.', action: 'repick', code: 'empty' });
  });
  it('treats a file that cannot be read any more as changed', () => {
    expect(toProblem(new DOMException('x', 'NotReadableError'))).toMatchObject({ action: 'repick', code: 'source-changed' });
  });
  it('wraps anything else in the given context as one sentence', () => {
    expect(toProblem(new Error('socket hang up.'), 'The upload stopped')).toEqual({ message: 'The upload stopped: socket hang up.' });
    expect(actionLabel('reconnect')).toBe('Open connection settings');
  });
});
