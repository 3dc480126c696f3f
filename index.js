// The package's entry point for code that requires it by name, such as a test harness that
// runs the node through n8n-core. n8n itself does not use it: it finds the node and the
// credential through the "n8n" field of package.json.
const { Bitrix24Vibecode } = require('./dist/nodes/Bitrix24Vibecode/Bitrix24Vibecode.node.js');
const { Bitrix24VibecodeApi } = require('./dist/credentials/Bitrix24VibecodeApi.credentials.js');

module.exports = { Bitrix24Vibecode, Bitrix24VibecodeApi };
