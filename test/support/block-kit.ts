// Test helper: Slack's published Block Kit limits (https://api.slack.com/reference/block-kit/blocks,
// .../composition-objects, .../block-elements), checked independently of the code that builds
// messages. Returns what breaks them; empty when the message is valid.
type Json = Record<string, any>;

const textObject = (text: Json | undefined, where: string, max: number, only?: 'plain_text'): string[] => {
  if (!text || typeof text !== 'object') return [`${where}: a text object is required`];
  const problems: string[] = [];
  if (!['plain_text', 'mrkdwn'].includes(text.type) || (only && text.type !== only)) problems.push(`${where}.type: ${text.type} is not ${only ?? 'plain_text or mrkdwn'}`);
  if (typeof text.text !== 'string' || text.text.length < 1) problems.push(`${where}.text: must be a non-empty string`);
  else if (text.text.length > max) problems.push(`${where}.text: ${text.text.length} characters, more than ${max}`);
  return problems;
};

export function blockKitProblems(message: Json): string[] {
  const problems: string[] = [];
  if (typeof message.text !== 'string' || message.text.length === 0) problems.push('text: a fallback text is required for notifications');
  else if (message.text.length > 40_000) problems.push('text: more than 40,000 characters');
  const blocks: Json[] = Array.isArray(message.blocks) ? message.blocks : [];
  if (blocks.length > 50) problems.push(`blocks: ${blocks.length}, more than 50`);
  blocks.forEach((block, i) => {
    const at = `blocks.${i}`;
    if (block.block_id !== undefined && String(block.block_id).length > 255) problems.push(`${at}.block_id: more than 255 characters`);
    switch (block.type) {
      case 'header':
        problems.push(...textObject(block.text, `${at}.text`, 150, 'plain_text'));
        break;
      case 'section':
        if (block.text === undefined && block.fields === undefined) problems.push(`${at}: a section needs text or fields`);
        if (block.text !== undefined) problems.push(...textObject(block.text, `${at}.text`, 3000));
        if (block.fields !== undefined) {
          if (!Array.isArray(block.fields) || block.fields.length > 10) problems.push(`${at}.fields: at most 10`);
          (block.fields ?? []).forEach((field: Json, j: number) => problems.push(...textObject(field, `${at}.fields.${j}`, 2000)));
        }
        break;
      case 'context':
        if (!Array.isArray(block.elements) || block.elements.length < 1 || block.elements.length > 10) problems.push(`${at}.elements: 1 to 10`);
        (block.elements ?? []).forEach((element: Json, j: number) => problems.push(...textObject(element, `${at}.elements.${j}`, 3000)));
        break;
      case 'actions':
        if (!Array.isArray(block.elements) || block.elements.length < 1 || block.elements.length > 25) problems.push(`${at}.elements: 1 to 25`);
        (block.elements ?? []).forEach((element: Json, j: number) => {
          if (element.type !== 'button') return;
          problems.push(...textObject(element.text, `${at}.elements.${j}.text`, 75, 'plain_text'));
          if (element.url !== undefined && (typeof element.url !== 'string' || element.url.length > 3000)) problems.push(`${at}.elements.${j}.url: at most 3000 characters`);
          if (element.action_id !== undefined && String(element.action_id).length > 255) problems.push(`${at}.elements.${j}.action_id: at most 255 characters`);
        });
        break;
      case 'divider':
        break;
      default:
        problems.push(`${at}.type: ${block.type} is not a block this check knows`);
    }
  });
  return problems;
}
