// The pods of the platform on kind after make kind-test: OOM kills and restarts per container,
// the sum of memory/CPU requests and limits, and each pod's peak memory as its cgroup recorded it
// (memory.max_usage_in_bytes on this cgroup-v1 host, read in the kind node). Exit 1 if any
// container was OOM-killed.
//   node infra/kind/pod-report.mjs NAMESPACE OUT.json
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';

const [namespace = 'bulkhead', out] = process.argv.slice(2);
const kubectl = process.env.BULKHEAD_KUBECTL ?? 'kubectl';
const node = process.env.BULKHEAD_KIND_NODE ?? 'bulkhead-control-plane';
const pods = JSON.parse(
  execFileSync(kubectl, ['--namespace', namespace, 'get', 'pods', '-o', 'json'], {
    encoding: 'utf8',
  }),
).items;

const MI = 1024 * 1024;
function bytes(q) {
  if (q === undefined) return 0;
  const m = /^([0-9.]+)(Ki|Mi|Gi|k|M|G)?$/.exec(String(q));
  if (!m) throw new Error(`unknown quantity ${q}`);
  const unit = { Ki: 1024, Mi: MI, Gi: 1024 * MI, k: 1e3, M: 1e6, G: 1e9 }[m[2]] ?? 1;
  return Number(m[1]) * unit;
}
function millicores(q) {
  if (q === undefined) return 0;
  const s = String(q);
  return s.endsWith('m') ? Number(s.slice(0, -1)) : Number(s) * 1000;
}

// Peak memory per pod, from the node's cgroup tree (pod UIDs with _ for - under systemd).
let peaks = {};
try {
  // Each pod's own slice (…-pod<uid>.slice), not the slices of its containers below it.
  const script =
    'find /sys/fs/cgroup/memory -path "*-pod*.slice/memory.max_usage_in_bytes" | ' +
    'while read -r f; do echo "$f $(cat "$f")"; done';
  const text = execFileSync('docker', ['exec', node, 'sh', '-c', script], { encoding: 'utf8' });
  for (const line of text.split('\n').filter(Boolean)) {
    const [path, value] = line.split(' ');
    const uid = /pod([0-9a-f_-]{36})/.exec(path)?.[1]?.replaceAll('_', '-');
    if (uid) peaks[uid] = Math.max(peaks[uid] ?? 0, Number(value));
  }
} catch (error) {
  console.error(`[bulkhead] could not read the pods' cgroups in ${node}: ${error.message}`);
  peaks = {};
}

const rows = [];
const totals = { requestsCpuM: 0, requestsMemMi: 0, limitsMemMi: 0, peakMi: 0 };
const oomKilled = [];
const restarted = [];
for (const pod of pods) {
  const containers = [...(pod.spec.initContainers ?? []), ...pod.spec.containers];
  let reqCpu = 0;
  let reqMem = 0;
  let limMem = 0;
  for (const c of containers) {
    reqCpu += millicores(c.resources?.requests?.cpu);
    reqMem += bytes(c.resources?.requests?.memory);
    limMem += bytes(c.resources?.limits?.memory);
  }
  const statuses = [
    ...(pod.status.initContainerStatuses ?? []),
    ...(pod.status.containerStatuses ?? []),
  ];
  for (const s of statuses) {
    const last = s.lastState?.terminated;
    if (last?.reason === 'OOMKilled' || s.state?.terminated?.reason === 'OOMKilled')
      oomKilled.push(`${pod.metadata.name}/${s.name}`);
    if (s.restartCount > 0)
      restarted.push(
        `${pod.metadata.name}/${s.name} ×${s.restartCount} (last: ${last?.reason ?? '?'} exit ${last?.exitCode ?? '?'})`,
      );
  }
  const peak = peaks[pod.metadata.uid];
  rows.push({
    pod: pod.metadata.name,
    requestsCpuM: reqCpu,
    requestsMemMi: Math.round(reqMem / MI),
    limitsMemMi: Math.round(limMem / MI),
    peakMi: peak === undefined ? null : Math.round(peak / MI),
  });
  totals.requestsCpuM += reqCpu;
  totals.requestsMemMi += Math.round(reqMem / MI);
  totals.limitsMemMi += Math.round(limMem / MI);
  totals.peakMi += peak === undefined ? 0 : Math.round(peak / MI);
}

const pad = (v, n) => String(v ?? '-').padStart(n);
console.error('   pod                                  cpu req  mem req  mem limit  peak (MiB)');
for (const r of rows)
  console.error(
    `   ${r.pod.padEnd(36)} ${pad(r.requestsCpuM + 'm', 7)} ${pad(r.requestsMemMi, 8)} ${pad(r.limitsMemMi, 10)} ${pad(r.peakMi, 11)}`,
  );
console.error(
  `   ${'total'.padEnd(36)} ${pad(totals.requestsCpuM + 'm', 7)} ${pad(totals.requestsMemMi, 8)} ${pad(totals.limitsMemMi, 10)} ${pad(totals.peakMi, 11)}`,
);
console.error(`   OOM-killed: ${oomKilled.length ? oomKilled.join(', ') : 'none'}`);
console.error(`   restarted containers: ${restarted.length ? restarted.join('; ') : 'none'}`);
if (out) writeFileSync(out, JSON.stringify({ rows, totals, oomKilled, restarted }, null, 2) + '\n');
process.exitCode = oomKilled.length > 0 ? 1 : 0;
