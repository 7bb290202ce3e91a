/**
 * Copy-ready installs of a delegate for a new token (deploy/README.md describes each). The gRPC
 * address is the control plane's own host on the default port; operators behind a proxy edit it.
 */
export interface InstallTarget {
  token: string;
  name: string;
  tags: readonly string[];
  host: string;
}

const grpcUrl = (host: string) => `grpc://${host}:7443`;

export function installCommands({ token, name, tags, host }: InstallTarget): Record<'Docker' | 'Helm' | 'systemd', string> {
  const tagList = tags.join(',');
  return {
    Docker: [
      'docker run -d --name attache-delegate --restart unless-stopped \\',
      `  -e ATTACHE_URL=${grpcUrl(host)} -e ATTACHE_TOKEN=${token} \\`,
      `  -e ATTACHE_DELEGATE_NAME=${name}${tagList ? ` -e ATTACHE_TAGS=${tagList}` : ''} \\`,
      '  attache node delegate/dist/cli.js',
    ].join('\n'),
    Helm: [
      `kubectl -n attache create secret generic attache-delegate-token --from-literal=token=${token}`,
      'helm install attache-delegate deploy/helm/attache-delegate -n attache \\',
      `  --set image.repository="$IMAGE" --set name=${name}${tagList ? ` --set 'tags={${tagList}}'` : ''} \\`,
      `  --set 'controlPlane.urls={${grpcUrl(host)}}' --set existingSecret.name=attache-delegate-token`,
    ].join('\n'),
    systemd: [
      'install -m 0644 deploy/systemd/attache-delegate.service /etc/systemd/system/',
      'install -d -m 0755 /etc/attache',
      `printf 'ATTACHE_URL=${grpcUrl(host)}\\nATTACHE_TOKEN=${token}\\nATTACHE_DELEGATE_NAME=${name}\\nATTACHE_TAGS=${tagList}\\n' | install -m 0600 /dev/stdin /etc/attache/delegate.env`,
      'systemctl daemon-reload && systemctl enable --now attache-delegate',
    ].join('\n'),
  };
}
