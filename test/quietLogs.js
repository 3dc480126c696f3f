// n8n's engine logs every failed item; tests assert on outputs instead. A test file that
// needs the logs (test/hostile/captureLogs.js) sets its own level when it loads.
process.env.N8N_LOG_LEVEL = 'silent';
