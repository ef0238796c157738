/** The EC2 Query API's XML namespace for API version 2016-11-15. */
export const EC2_XML_NAMESPACE = 'http://ec2.amazonaws.com/doc/2016-11-15/';

/** An XML fragment: element text, already escaped. */
export type Xml = string;

export function escapeXml(text: string): string {
  return text
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&apos;');
}

/** `<name>value</name>`; nothing for undefined, so optional members are simply left out as EC2 does. */
export function el(name: string, value: string | number | boolean | Xml | undefined, raw = false): Xml {
  if (value === undefined) return '';
  const text = typeof value === 'string' ? (raw ? value : escapeXml(value)) : String(value);
  return `<${name}>${text}</${name}>`;
}

/** A nested element whose children are XML already. */
export function node(name: string, children: readonly Xml[]): Xml {
  return `<${name}>${children.join('')}</${name}>`;
}

/** EC2's list encoding: `<name><item>..</item><item>..</item></name>`; nothing when empty. */
export function itemSet(name: string, items: readonly Xml[]): Xml {
  if (items.length === 0) return '';
  return `<${name}>${items.map((i) => `<item>${i}</item>`).join('')}</${name}>`;
}

/** A successful answer: `<ActionResponse xmlns=...><requestId>..</requestId>...</ActionResponse>`. */
export function responseXml(action: string, requestId: string, children: readonly Xml[]): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<${action}Response xmlns="${EC2_XML_NAMESPACE}">${el('requestId', requestId)}${children.join('')}</${action}Response>`
  );
}

/** EC2's error document (note `RequestID`, unlike the success answers' `requestId`). */
export function errorXml(code: string, message: string, requestId: string): string {
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Response><Errors><Error>${el('Code', code)}${el('Message', message)}</Error></Errors>` +
    `${el('RequestID', requestId)}</Response>`
  );
}

/** ISO 8601 with milliseconds, as EC2 writes times. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}
