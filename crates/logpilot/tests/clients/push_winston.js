// Pushes N log lines to a Loki URL through winston-loki (snappy-compressed protobuf by
// default), then exits. Usage: node push_winston.js URL KEY N
const winston = require('winston');
const LokiTransport = require('winston-loki');

const [url, key, n] = process.argv.slice(2);
const transport = new LokiTransport({
  host: url,
  basicAuth: `loki:${key}`,
  labels: { service: 'winston-app', node: 'js1' },
  json: false,
  batching: true,
  interval: 0.2,
  replaceTimestamp: true,
  onConnectionError: (err) => { console.error('winston-loki error', err); process.exitCode = 1; },
});
const logger = winston.createLogger({ transports: [transport] });
for (let i = 0; i < Number(n); i++) {
  logger.info(`winston line ${i}`, { labels: { level: i % 2 ? 'info' : 'warn' } });
}
transport.flush().then(() => {
  logger.close();
  setTimeout(() => process.exit(process.exitCode || 0), 300);
});
