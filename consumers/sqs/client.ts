// Builds the SQS client from the relay's SQS settings. Credentials come from the settings when the
// environment gave keys, otherwise from the AWS SDK's default provider chain (shared config and SSO
// profiles, web identity, ECS and EC2 roles); they are never logged. Two settings are for CPU, which
// bounds the relay's throughput: the transport is undici's keep-alive pools (http-handler.ts), sized
// for the long polls plus the batch calls running beside them; and the SDK's MD5 checks of message
// bodies and attributes are off: TLS already guarantees what they check on the wire, and they cost
// about a quarter of the CPU of a batch call.
import { SQSClient } from "@aws-sdk/client-sqs";
import type { SqsSettings } from "./config.ts";
import { UndiciHttpHandler } from "./http-handler.ts";

/** What a short-lived command changes: fewer attempts and connections, a shorter connect timeout. */
export interface SqsClientOptions {
  readonly maxAttempts?: number;
  readonly connections?: number;
  readonly connectTimeoutMs?: number;
}

export function createSqsClient(settings: SqsSettings, options: SqsClientOptions = {}): SQSClient {
  const credentials = settings.credentials;
  return new SQSClient({
    region: settings.region,
    md5: false,
    ...(options.maxAttempts === undefined ? {} : { maxAttempts: options.maxAttempts }),
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    ...(credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: credentials.accessKeyId.reveal(),
            secretAccessKey: credentials.secretAccessKey.reveal(),
            ...(credentials.sessionToken === undefined
              ? {}
              : { sessionToken: credentials.sessionToken.reveal() }),
          },
        }),
    requestHandler: new UndiciHttpHandler({
      connections: options.connections ?? settings.receiveConcurrency + 64,
      connectTimeoutMs: options.connectTimeoutMs ?? 5_000,
    }),
  });
}
