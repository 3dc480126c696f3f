// n8n finds the node and the credential through the "n8n" field of package.json, so the
// published package has no entry point; this file only answers require() of a checkout.
module.exports = {};
