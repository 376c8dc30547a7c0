/**
 * A small client of toxiproxy's HTTP API (github.com/Shopify/toxiproxy, v2.5.0, installed by
 * infra/kind/tools.sh): proxies, toxics, enable/disable.
 */
export interface ProxySpec {
  name: string;
  listen: string;
  upstream: string;
}

export interface Toxic {
  name: string;
  type: 'latency' | 'timeout' | 'bandwidth' | 'reset_peer' | 'slow_close' | 'limit_data';
  stream: 'upstream' | 'downstream';
  toxicity?: number;
  attributes: Record<string, number>;
}

export class Toxiproxy {
  constructor(private readonly baseUrl: string) {}

  private async call(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    if (!response.ok) {
      throw new Error(`toxiproxy ${method} ${path}: ${response.status} ${text.trim()}`);
    }
    return text ? (JSON.parse(text) as unknown) : undefined;
  }

  /** Creates the proxy, or replaces one of the same name left by an earlier run. */
  async ensureProxy(spec: ProxySpec): Promise<void> {
    const existing = (await this.call('GET', '/proxies')) as Record<string, unknown>;
    if (spec.name in existing) await this.call('DELETE', `/proxies/${spec.name}`);
    await this.call('POST', '/proxies', { ...spec, enabled: true });
  }

  addToxic(proxy: string, toxic: Toxic): Promise<unknown> {
    return this.call('POST', `/proxies/${proxy}/toxics`, { toxicity: 1, ...toxic });
  }

  removeToxic(proxy: string, name: string): Promise<unknown> {
    return this.call('DELETE', `/proxies/${proxy}/toxics/${name}`);
  }

  async toxics(proxy: string): Promise<Toxic[]> {
    return (await this.call('GET', `/proxies/${proxy}/toxics`)) as Toxic[];
  }

  /** Disabled, a proxy closes its connections and refuses new ones. */
  setEnabled(proxy: string, enabled: boolean): Promise<unknown> {
    return this.call('POST', `/proxies/${proxy}`, { enabled });
  }

  /** Every proxy enabled, every toxic removed. */
  reset(): Promise<unknown> {
    return this.call('POST', '/reset');
  }
}
