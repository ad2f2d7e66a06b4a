import { describe, expect, it } from 'vitest';
import type { JobRecord } from '../../engine/api.ts';
import { progressMeasure } from '../shared/progress-measure.ts';
import { COMPLETION_PENDING_TEXT, jobStatus } from './job-status.ts';

const at = (state: JobRecord['state'], writtenBlocks: number, skippedBlocks = 0) => ({
  state,
  snapshotId: 'snap-0123456789abcdef0',
  counters: { totalBlocks: 64, writtenBlocks, skippedBlocks, bytesWritten: 0, blocksToSend: 64 - skippedBlocks },
});
const idle = { runningHere: false, elsewhere: false };

describe('jobStatus', () => {
  it('says all blocks are sent and completion is pending, not "Interrupted", when the card reads 100.0%', () => {
    for (const state of ['completing', 'running', 'paused'] as const) {
      const job = at(state, 60, 4);
      expect(progressMeasure(job.counters).percentText).toBe('100.0%');
      expect(jobStatus(job, idle)).toEqual({ text: COMPLETION_PENDING_TEXT, completionPending: true });
    }
    expect(COMPLETION_PENDING_TEXT).toBe('All blocks sent — completion pending');
  });

  it('keeps "Interrupted" for a job with blocks left to send', () => {
    expect(jobStatus(at('paused', 30), idle)).toEqual({ text: 'Interrupted', completionPending: false });
    expect(jobStatus(at('completing', 63), idle).text).toBe('Interrupted');
  });

  it('puts where the job runs, and an error, before completion', () => {
    expect(jobStatus(at('completing', 64), { runningHere: true, elsewhere: false }).text).toBe('Running in this tab');
    expect(jobStatus(at('completing', 64), { runningHere: false, elsewhere: true }).text).toBe('Running in another tab');
    // A failed CompleteSnapshot: the error is the news; Resume still only completes.
    expect(jobStatus(at('error', 64), idle)).toEqual({ text: 'Stopped by an error', completionPending: true });
    expect(jobStatus({ state: 'new', counters: at('new', 0).counters }, idle).text).toBe('Not started');
  });
});
