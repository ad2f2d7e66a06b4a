// Loaded into a page by the engine specs (a same-origin module passes the app's CSP): exposes engine, emulator, read-back.
import * as engine from '../src/engine/api.ts';
import * as emu from '../src/emulator/index.ts';
import * as readback from '../src/engine/testing/snapshot-readback.ts';

Object.assign(window, { __engine: engine, __emu: emu, __readback: readback });

