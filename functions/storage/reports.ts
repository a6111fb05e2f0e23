// Full agent reports in S3, content-addressed (reports/<cluster>/<sha256>.json), so a repeated
// report costs nothing and a stored one never changes.
import { createHash } from 'node:crypto';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { BUCKET } from './schema.ts';

export class ReportStorage {
  constructor(
    private readonly s3: S3Client,
    readonly bucket: string,
  ) {}

  /** Stores a report and returns its key. */
  async put(cluster: string, body: string): Promise<string> {
    const hash = createHash('sha256').update(body).digest('hex');
    const key = `${BUCKET.reportsPrefix}${cluster}/${hash}.json`;
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }));
    return key;
  }

  /** Keeps the events a stored report implies until they are written to the table; returns the key. */
  async putPendingEvents(cluster: string, statusHash: string, events: unknown[]): Promise<string> {
    const key = `${BUCKET.pendingEventsPrefix}${cluster}/${statusHash}.json`;
    await this.s3.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: JSON.stringify(events), ContentType: 'application/json' }));
    return key;
  }

  async get<T>(key: string): Promise<T | null> {
    try {
      const out = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return JSON.parse(await out.Body!.transformToString()) as T;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') return null;
      throw err;
    }
  }
}
