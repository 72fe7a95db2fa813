/**
 * Glean pings shaped like those Firefox ESR 153 sends through FOG (Glean
 * 67.3.2, Rust on Linux): `ping_info`, `client_info`, `metrics` (and `events`
 * for the events ping), as captured in issue 16, with ids and times made up.
 */
import { randomUUID } from 'node:crypto';

export const GLEAN_AGENT = 'Glean/67.3.2 (Rust on Linux)';

export interface GleanPingOptions {
  readonly clientId?: string;
  readonly channel?: unknown;
  readonly displayVersion?: unknown;
  readonly seq?: number;
  readonly reason?: string;
  /** Replaces the metrics section. */
  readonly metrics?: Record<string, unknown>;
}

function gleanClientInfo(options: GleanPingOptions = {}): Record<string, unknown> {
  const info: Record<string, unknown> = {
    telemetry_sdk_build: '67.3.2',
    client_id: options.clientId ?? randomUUID(),
    first_run_date: '2026-01-15+00:00',
    os: 'Linux',
    os_version: '6.1.0-31-amd64',
    architecture: 'x86_64',
    locale: 'en-US',
    app_build: '20260112100402',
    app_display_version: '153.8.0esr',
    app_channel: 'esr',
    build_date: '1970-01-01T00:00:00+00:00',
    session_id: '5d1d4a0c-9b6e-4f1f-8d2b-0f3e1c2a4b6d',
    session_count: 2,
  };
  if ('channel' in options) info.app_channel = options.channel;
  if ('displayVersion' in options) info.app_display_version = options.displayVersion;
  return info;
}

/** A `baseline` ping. */
export function baselinePing(options: GleanPingOptions = {}): Record<string, unknown> {
  return {
    ping_info: { seq: options.seq ?? 3, start_time: '2026-01-15T09:20+00:00', end_time: '2026-01-15T09:30+00:00', reason: options.reason ?? 'active' },
    client_info: gleanClientInfo(options),
    metrics: options.metrics ?? {
      timespan: { 'glean.baseline.duration': { time_unit: 'second', value: 600 } },
      string: { 'glean.baseline.locale': 'en-US' },
      datetime: { 'glean.validation.first_run_hour': '2026-01-15T09+00:00' },
      counter: { 'browser.engagement.active_ticks': 12, 'browser.engagement.uri_count': 3 },
      labeled_counter: { 'glean.error.invalid_value': { 'glean.baseline.locale': 0 } },
    },
  };
}

/** A `deletion-request` ping: sent when a user turns data upload off. */
export function deletionRequestPing(clientId: string, options: GleanPingOptions = {}): Record<string, unknown> {
  return {
    ping_info: { seq: 0, start_time: '2026-01-15T09:29+00:00', end_time: '2026-01-15T09:31+00:00', reason: 'set_upload_enabled' },
    client_info: gleanClientInfo({ ...options, clientId }),
    metrics: { uuid: { 'legacy.telemetry.client_id': randomUUID() } },
  };
}
