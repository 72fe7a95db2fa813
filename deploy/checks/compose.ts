/** deploy/compose.yaml: services, builds, commands, variables, healthchecks, ports, scaling. */
import path from 'node:path';
import { APPS, READY_PORT_VARIABLE, appOfCommand, arr, isObj, obj, str, type AppName, type CheckVariables } from './common.js';

export function validateCompose(root: string, documents: unknown[] | undefined, problems: string[], checkVariables: CheckVariables): void {
  const where = 'deploy/compose.yaml';
  if (!documents?.[0]) {
    problems.push(`${where}: missing or empty`);
    return;
  }
  const compose = obj(documents[0]);
  const services = obj(compose.services);
  const volumes = obj(compose.volumes);
  for (const name of ['rabbitmq', 'redis', ...APPS]) if (!isObj(services[name])) problems.push(`${where}: no service ${name}`);
  for (const [name, value] of Object.entries(services)) {
    const service = obj(value);
    const at = `${where} services.${name}`;
    if (!str(service.image)) problems.push(`${at}: no image`);
    for (const dependency of Object.keys(isObj(service.depends_on) ? service.depends_on : {})) {
      if (!isObj(services[dependency])) problems.push(`${at}: depends_on ${dependency}, which is not a service`);
    }
    for (const mount of arr(service.volumes)) {
      const source = str(mount)?.split(':')[0];
      if (source && !source.startsWith('.') && !source.startsWith('/') && !(source in volumes)) problems.push(`${at}: volume ${source} is not declared`);
    }
    if (!(APPS as readonly string[]).includes(name)) continue;
    const app = name as AppName;
    const build = obj(service.build);
    if (str(build.dockerfile) !== 'deploy/Dockerfile' || path.resolve(root, 'deploy', str(build.context) ?? '') !== root) {
      problems.push(`${at}: must build deploy/Dockerfile with the repository as context`);
    }
    const command = appOfCommand(arr(service.command), root);
    if (command.app !== app) problems.push(`${at}: command does not run apps/${app}/src/main.ts`);
    else if (!command.exists) problems.push(`${at}: ${command.entry} does not exist`);
    const environment = obj(service.environment);
    checkVariables(at, app, Object.keys(environment));
    for (const variable of ['AMQP_URL', 'REDIS_URL']) {
      const url = str(environment[variable]);
      const host = url === undefined ? undefined : /^[a-z]+:\/\/(?:[^@/]*@)?([^:/]+)/.exec(url)?.[1];
      if (host !== undefined && !isObj(services[host])) problems.push(`${at}: ${variable} names host ${host}, which is not a service`);
    }
    const port = str(environment[READY_PORT_VARIABLE[app]]);
    if (port === undefined) problems.push(`${at}: ${READY_PORT_VARIABLE[app]} is not set`);
    const healthcheck = arr(obj(service.healthcheck).test).map(str).join(' ');
    if (!healthcheck.includes(`127.0.0.1:${port}/ready`)) problems.push(`${at}: the healthcheck must ask /ready on port ${port}`);
    if (app === 'workers') {
      if (service.container_name !== undefined || service.ports !== undefined || service.hostname !== undefined) {
        problems.push(`${at}: a container name, hostname or published port would prevent --scale workers=N`);
      }
      if (!arr(service.volumes).some((mount) => str(mount)?.startsWith('storage:'))) problems.push(`${at}: must mount the shared storage volume`);
    } else if (!arr(service.ports).some((mapping) => str(mapping)?.endsWith(`:${port}`))) {
      problems.push(`${at}: no published port for ${READY_PORT_VARIABLE[app]}=${port}`);
    }
  }
}
