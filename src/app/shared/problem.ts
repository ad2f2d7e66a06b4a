import { notYoursSentence, refusedSnapshot } from '../../aws/advice.ts';
import { ResumeError, UploadError, type ResumeAction } from '../../engine/api.ts';
import { ImageFormatError } from '../../images/types.ts';

/** An error as the page shows it: a sentence, and the way forward when there is one. */
export interface Problem {
  message: string;
  action?: ResumeAction;
  code?: string;
}

/** Turns anything thrown into a Problem; typed engine errors keep their sentence and action. */
export function toProblem(e: unknown, fallback = 'Something went wrong'): Problem {
  if (e instanceof ResumeError || e instanceof UploadError) return { message: e.message, action: e.action, code: e.code };
  if (e instanceof Error && (e.name === 'ResumeError' || e.name === 'UploadError')) {
    const typed = e as Error & { action?: ResumeAction; code?: string };
    return { message: e.message, action: typed.action, code: typed.code };
  }
  // The image readers already speak in sentences: what is wrong with the file and what to pick instead.
  if (e instanceof ImageFormatError) return { message: e.message, action: 'repick', code: e.code };
  if (e instanceof DOMException && e.name === 'NotReadableError') {
    return { message: 'The file changed or moved while it was being read. Pick it again to continue.', action: 'repick', code: 'source-changed' };
  }
  const refused = refusedSnapshot(e);
  if (refused) return { message: `${notYoursSentence(refused)} Pick one of your own, or sign in as the person who started it.`, code: 'not-yours' };
  const detail = e instanceof Error ? e.message : String(e);
  return { message: `${fallback}: ${detail.replace(/\.$/, '')}.` };
}

/** The label of the button that carries out an action. */
export function actionLabel(action: ResumeAction): string {
  switch (action) {
    case 'repick': return 'Pick the file again';
    case 'restart': return 'Start over';
    case 'reconnect': return 'Open connection settings';
    case 'discard': return 'Discard job';
    case 'grant': return 'Allow access and resume';
    case 'takeover': return 'Take over';
  }
}
