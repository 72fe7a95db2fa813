import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, UnreadConfigError } from '../src/config/env.js';

const schema = z.object({ PORT: z.coerce.number().default(8080), HOST: z.string().default('0.0.0.0'), EXTRA: z.string().optional() });

describe('configFromEnv', () => {
  it('builds the config when every parsed variable is read', () => {
    expect(configFromEnv(schema, { PORT: '9000' }, (e) => ({ address: `${e.HOST}:${e.PORT}`, extra: e.EXTRA }))).toEqual({ address: '0.0.0.0:9000', extra: undefined });
  });

  it('fails, naming them, when the build never reads some variables', () => {
    const build = (e: z.output<typeof schema>) => ({ port: e.PORT });
    expect(() => configFromEnv(schema, {}, build)).toThrow(UnreadConfigError);
    expect(() => configFromEnv(schema, {}, build)).toThrow('configuration parsed but never read: HOST, EXTRA');
  });

  it('still reports bad values as ConfigError naming the variable', () => {
    expect(() => configFromEnv(schema, { PORT: 'abc' }, (e) => e)).toThrow(ConfigError);
  });
});
