import { startVerdict } from '../app.js';
import { loadConfig } from '../config/load-config.js';
import { createOpsLog } from '../ops-log.js';
import { err, oneLine, problemsOf } from './io.js';

export async function serve(configFile: string | undefined): Promise<number> {
  let config;
  try {
    config = loadConfig(configFile);
  } catch (e) {
    err(`verdict: refusing to start: ${oneLine(problemsOf(e, configFile ?? '(config)'))}`);
    return 2;
  }
  const log = createOpsLog(config.log.level);
  let app;
  try {
    app = await startVerdict(config, { log });
  } catch (e) {
    err(`verdict: refusing to start: ${oneLine(problemsOf(e, config.file ?? config.policies.dir))}`);
    return 2;
  }
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      log.info({ signal }, 'shutting down');
      app.stop(signal).then(
        () => resolve(0),
        (e: unknown) => {
          err(`verdict: shutdown failed: ${(e as Error).message}`);
          resolve(1);
        },
      );
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
    process.on('SIGHUP', () => void app.reload());
  });
}
