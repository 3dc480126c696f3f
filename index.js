// n8n finds the nodes and credentials through the "n8n" field of package.json.
module.exports = {};
