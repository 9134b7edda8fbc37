'use strict';
// test/shopify-sim/run --port PORT [--plan standard|plus|custom:MAX:RATE] [--token TOKEN]
//   [--client-id ID --client-secret SECRET] [--token-ttl SECONDS] [--faults JSON] [--seed N] [--throttle-429] [--verbose]
const { createServer } = require('./server');

function parseArgs(argv) {
  const o = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    switch (a) {
      case '--port': o.port = Number(val()); break;
      case '--plan': o.plan = val(); break;
      case '--token': o.token = val(); break;
      case '--client-id': o.clientId = val(); break;
      case '--client-secret': o.clientSecret = val(); break;
      case '--token-ttl': o.tokenTtl = Number(val()); break;
      case '--faults': o.faults = JSON.parse(val()); break;
      case '--seed': o.seed = Number(val()); break;
      case '--throttle-429': o.throttle429 = true; break;
      case '--verbose': case '-v': o.verbose = true; break;
      case '--help': case '-h':
        process.stdout.write('usage: run --port PORT [--plan standard|plus|custom:MAX:RATE] [--token TOKEN] [--client-id ID --client-secret SECRET] [--token-ttl SECONDS] [--faults JSON] [--seed N] [--throttle-429] [--verbose]\n');
        process.exit(0);
        break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (o.port == null || Number.isNaN(o.port)) throw new Error('--port PORT is required (0 = pick a free port)');
  return o;
}

async function main() {
  let opts;
  try { opts = parseArgs(process.argv.slice(2)); } catch (e) { process.stderr.write(`shopify-sim: ${e.message}\n`); process.exit(2); }
  let srv;
  try { srv = createServer(opts); } catch (e) { process.stderr.write(`shopify-sim: ${e.message}\n`); process.exit(1); }
  const port = await srv.listen(opts.port);
  process.stdout.write(`listening on http://127.0.0.1:${port}\n`);
  let closing = false;
  const stop = () => { if (closing) return; closing = true; srv.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref(); };
  process.on('SIGTERM', stop);
  // a bug in one request must not take the simulator down under a running test suite
  process.on('uncaughtException', (e) => { process.stderr.write(`shopify-sim: uncaught exception: ${e.stack}\n`); });
  process.on('SIGINT', stop);
}

main().catch((e) => { process.stderr.write(`shopify-sim: ${e.stack}\n`); process.exit(1); });
