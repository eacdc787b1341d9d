// Builds the SQS client from the relay's SQS settings. Credentials come from the settings when the
// environment gave keys, otherwise from the AWS SDK's default provider chain (shared config and SSO
// profiles, web identity, ECS and EC2 roles); they are never logged. Keep-alive sockets are sized for
// the long polls plus the batch calls running beside them. The SDK's MD5 checks of message bodies
// and attributes are off: TLS already guarantees what they check on the wire, and they cost about a
// quarter of the CPU of a batch call, which bounds the relay's throughput.
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SQSClient } from "@aws-sdk/client-sqs";
import type { SqsSettings } from "./config.ts";

export function createSqsClient(settings: SqsSettings): SQSClient {
  const maxSockets = settings.receiveConcurrency + 64;
  const credentials = settings.credentials;
  return new SQSClient({
    region: settings.region,
    md5: false,
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
    requestHandler: {
      connectionTimeout: 5_000,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets }),
      httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets }),
    },
  });
}
