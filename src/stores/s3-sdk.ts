/**
 * The AWS SDK's S3 client, as the S3 store uses it: loaded with require, not import. The SDK is
 * CommonJS, and an ES module importing CommonJS makes Node scan the module's source for the names
 * it exports (cjs-module-lexer) before loading it; for the SDK that scan cost about as much CPU
 * as the loading itself (220-250 ms against 100-130 ms for require, Node 20), paid by every run on
 * an S3 store before its first request (docs/PERFORMANCE.md, "S3 backup: the SDK loaded with
 * require"). Types still come from the SDK's own declarations (a type import costs nothing at run
 * time).
 */
import { createRequire } from 'node:module';
import type * as Sdk from '@aws-sdk/client-s3';

const sdk = createRequire(import.meta.url)('@aws-sdk/client-s3') as typeof Sdk;

export const {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
} = sdk;
export const S3Client = sdk.S3Client;
export type S3Client = Sdk.S3Client;

export type {
  CompletedPart,
  CreateMultipartUploadCommandOutput,
  GetObjectCommandOutput,
  HeadObjectCommandOutput,
  ListObjectsV2CommandOutput,
  UploadPartCommandOutput,
} from '@aws-sdk/client-s3';
