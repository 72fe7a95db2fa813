import os from 'node:os';
import { z } from 'zod';
import { ConfigError, configFromEnv, type Env } from '@telemetry/shared/config/env';
import { booleanField, durationMsField, integerField, sizeBytesField } from '@telemetry/shared/config/units';
import { topologyEnvShape, topologyFromEnv, type Topology } from '@telemetry/shared/amqp/topology';
import { opsEnvShape, opsFromEnv, type OpsConfig } from '@telemetry/shared/config/ops';
import { namespaceListField } from '@telemetry/shared/generic-form';

const gatewayEnvSchema = z.object({
  ...topologyEnvShape,
  PORT: integerField(8080, { min: 0, max: 65_535 }),
  HOST: z.string().default('0.0.0.0'),
  ...opsEnvShape,
  /** /metrics (the cluster's, summed) is served on this port only, never on PORT; 0: nowhere. */
  METRICS_PORT: integerField(9464, { min: 0, max: 65_535 }),
  MAX_BODY_BYTES: sizeBytesField('1MiB'),
  MAX_PATH_BYTES: sizeBytesField('10KiB'),
  MAX_HEADER_BYTES: sizeBytesField('1KiB'),
  /** 413 (edge specification) or 202 (the 2013 server: accept and discard so broken clients stop resending). */
  OVERSIZE_STATUS: z.enum(['413', '202']).default('413').transform(Number),
  STORE_CLIENT_IP: booleanField(false),
  /** Generic-form namespaces taken (comma list, e.g. firefox-desktop,org-mozilla-fenix); unset: any well-formed one. */
  ACCEPTED_NAMESPACES: namespaceListField(),
  /** Proxies of ours in front of the gateway, each appending to X-Forwarded-For; 0: the socket's peer is the client. */
  TRUSTED_PROXY_HOPS: integerField(0, { min: 0, max: 16 }),
  /** Heap the rate limiter's buckets may take, per process (about 220 B a client). */
  RATE_LIMIT_MAX_MEMORY: sizeBytesField('32MiB'),
  /** Batch messages waiting for a confirm, per process. */
  MAX_INFLIGHT_PUBLISHES: integerField(1_000),
  /** Body bytes accepted but not yet confirmed (open batch + in flight), per process; past it: 503. */
  MAX_INFLIGHT_BYTES: sizeBytesField('64MiB'),
  /** A batch message closes after this linger, or at PUBLISH_BATCH_MAX_SIZE submissions or PUBLISH_BATCH_MAX_BYTES of bodies. */
  PUBLISH_BATCH_MAX_WAIT: durationMsField('2ms'),
  PUBLISH_BATCH_MAX_SIZE: integerField(500, { min: 1 }),
  PUBLISH_BATCH_MAX_BYTES: sizeBytesField('1MiB'),
  CONFIRM_TIMEOUT: durationMsField('5s'),
  RETRY_AFTER: durationMsField('5s'),
  GATEWAY_PROCESSES: integerField(os.availableParallelism(), { min: 1, max: 256 }),
  REQUEST_TIMEOUT: durationMsField('30s'),
  HEADERS_TIMEOUT: durationMsField('10s'),
  SHUTDOWN_TIMEOUT: durationMsField('10s'),
  /** Submissions per second per client IP and process; 0 = no limit. */
  RATE_LIMIT_PER_SECOND: integerField(0, { min: 0 }),
  RATE_LIMIT_BURST: integerField(20),
  /** V8 old-space cap of each clustered gateway process: memory stays bounded under any load. */
  GATEWAY_MAX_HEAP: sizeBytesField('256MiB'),
});

export interface GatewayConfig extends OpsConfig {
  readonly amqpUrl: string;
  readonly topology: Topology;
  readonly port: number;
  readonly host: string;
  readonly maxBodyBytes: number;
  readonly maxPathBytes: number;
  readonly maxHeaderBytes: number;
  readonly oversizeStatus: 413 | 202;
  readonly storeClientIp: boolean;
  /** Generic namespaces accepted; undefined: any well-formed one. */
  readonly acceptedNamespaces: ReadonlySet<string> | undefined;
  readonly trustedProxyHops: number;
  readonly maxInFlightPublishes: number;
  readonly maxInFlightBytes: number;
  readonly publishBatch: { readonly maxWaitMs: number; readonly maxSize: number; readonly maxBytes: number };
  readonly confirmTimeoutMs: number;
  readonly retryAfterSeconds: number;
  readonly processes: number;
  readonly requestTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  /** Undefined when off. */
  readonly rateLimit: { readonly perSecond: number; readonly burst: number; readonly maxMemoryBytes: number } | undefined;
  readonly maxHeapBytes: number;
}

/** Parses the gateway's environment; a bad value throws ConfigError naming the variable. */
export function parseGatewayConfig(env: Env): GatewayConfig {
  if (env.TRUST_PROXY !== undefined && env.TRUST_PROXY !== '') {
    // It took the client-written first hop; a silent change of meaning would put every client behind one address.
    throw new ConfigError([{ variable: 'TRUST_PROXY', message: 'was removed: set TRUSTED_PROXY_HOPS to the number of your proxies in front of the gateway (1 behind one load balancer)' }]);
  }
  return configFromEnv(gatewayEnvSchema, env, (parsed) => {
    const rateLimit = { perSecond: parsed.RATE_LIMIT_PER_SECOND, burst: parsed.RATE_LIMIT_BURST, maxMemoryBytes: parsed.RATE_LIMIT_MAX_MEMORY };
    return {
      amqpUrl: parsed.AMQP_URL,
      topology: topologyFromEnv(parsed),
      port: parsed.PORT,
      host: parsed.HOST,
      ...opsFromEnv(parsed),
      maxBodyBytes: parsed.MAX_BODY_BYTES,
      maxPathBytes: parsed.MAX_PATH_BYTES,
      maxHeaderBytes: parsed.MAX_HEADER_BYTES,
      oversizeStatus: parsed.OVERSIZE_STATUS === 202 ? 202 : 413,
      storeClientIp: parsed.STORE_CLIENT_IP,
      acceptedNamespaces: parsed.ACCEPTED_NAMESPACES,
      trustedProxyHops: parsed.TRUSTED_PROXY_HOPS,
      maxInFlightPublishes: parsed.MAX_INFLIGHT_PUBLISHES,
      maxInFlightBytes: parsed.MAX_INFLIGHT_BYTES,
      publishBatch: { maxWaitMs: parsed.PUBLISH_BATCH_MAX_WAIT, maxSize: parsed.PUBLISH_BATCH_MAX_SIZE, maxBytes: parsed.PUBLISH_BATCH_MAX_BYTES },
      confirmTimeoutMs: parsed.CONFIRM_TIMEOUT,
      retryAfterSeconds: Math.max(1, Math.ceil(parsed.RETRY_AFTER / 1000)),
      processes: parsed.GATEWAY_PROCESSES,
      requestTimeoutMs: parsed.REQUEST_TIMEOUT,
      headersTimeoutMs: parsed.HEADERS_TIMEOUT,
      shutdownTimeoutMs: parsed.SHUTDOWN_TIMEOUT,
      maxHeapBytes: parsed.GATEWAY_MAX_HEAP,
      rateLimit: rateLimit.perSecond > 0 ? rateLimit : undefined,
    };
  });
}
