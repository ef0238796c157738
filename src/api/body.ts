import type { IncomingMessage } from 'node:http';
import { ValidationError, errorMessage } from '../core/errors.ts';
import { HttpError } from './errors.ts';

/**
 * Reads a request's JSON body. Returns undefined when the request has none. Throws HttpError 415 when a body comes
 * as anything but `application/json` (UTF-8), HttpError 413 as soon as it passes `maxBodyBytes` (by its declared
 * length, or while streaming; the rest is discarded, never buffered), and ValidationError on `body` when it is not
 * valid JSON.
 */
export async function readJsonBody(req: IncomingMessage, maxBodyBytes: number): Promise<unknown> {
  const declared = declaredLength(req);
  const hasBody = declared === undefined ? req.headers['transfer-encoding'] !== undefined : declared > 0;
  checkContentType(req.headers['content-type'], hasBody);
  if (!hasBody) return undefined;
  if (declared !== undefined && declared > maxBodyBytes) {
    throw tooLarge(`it is ${declared} bytes, over the limit of ${maxBodyBytes}`);
  }
  const bytes = await collect(req, maxBodyBytes);
  if (bytes.length === 0) return undefined;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw new ValidationError('body', 'not valid JSON (it is not UTF-8 text)');
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new ValidationError('body', `not valid JSON (${errorMessage(err)})`);
  }
}

function declaredLength(req: IncomingMessage): number | undefined {
  const header = req.headers['content-length'];
  if (header === undefined) return undefined;
  const length = Number(header);
  return Number.isSafeInteger(length) && length >= 0 ? length : undefined;
}

function checkContentType(header: string | undefined, hasBody: boolean): void {
  if (header === undefined) {
    if (hasBody) throw unsupported('no Content-Type was given');
    return;
  }
  const [mediaType = '', ...params] = header.split(';').map((part) => part.trim().toLowerCase());
  if (mediaType !== 'application/json') throw unsupported(`got ${JSON.stringify(mediaType)}`);
  for (const param of params) {
    const [name, value] = param.split('=').map((part) => part.trim().replace(/^"|"$/g, ''));
    if (name === 'charset' && value !== 'utf-8' && value !== 'utf8')
      throw unsupported(`got charset ${JSON.stringify(value)}`);
  }
}

function unsupported(detail: string): HttpError {
  return new HttpError(
    415,
    'unsupported_media_type',
    `reading the body: send it as application/json in UTF-8; ${detail}`,
  );
}

function tooLarge(detail: string): HttpError {
  return new HttpError(413, 'payload_too_large', `reading the body: ${detail}`, { connection: 'close' });
}

function collect(req: IncomingMessage, maxBodyBytes: number): Promise<Buffer> {
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBodyBytes) {
        cleanup();
        chunks.length = 0;
        // Keep the connection readable so the client sees the 413; whatever else it sends is dropped.
        req.resume();
        reject(tooLarge(`it passed the limit of ${maxBodyBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new HttpError(400, 'invalid_request', `reading the body: ${err.message}`));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
