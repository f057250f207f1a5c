// Imported first by every host of the activities that runs on the embedded stack's
// configuration (workers, watchdog, CLI, tests via `node --import`, benches): the
// environment is built once, here.
import { hasEnvironment, setEnvironment } from '../../activities/environment/index.ts';
import { stackEnvironment } from './environment.ts';

if (!hasEnvironment()) setEnvironment(stackEnvironment());
