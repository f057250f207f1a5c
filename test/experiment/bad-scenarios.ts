// The classes of bad scenario that the resolver (scenario.unit.test.ts) and the
// workflow (scenario.test.ts) must both refuse, each naming its field path.
/** Each class of bad scenario, as overrides of a good one, and the field path it must name. */
export const badClasses: { name: string; set: string[]; path: string; says: RegExp }[] = [
  { name: 'unknown field', set: ['load.bogus=1'], path: 'load.bogus', says: /unknown field "bogus"/ },
  { name: 'wrong type', set: ['load.rate=fast'], path: 'load.rate', says: /expected number/ },
  { name: 'negative duration', set: ['faults.0.duration=-30s'], path: 'faults.0.duration', says: /not a duration/ },
  { name: 'no system of record', set: ['reconcile=[]'], path: 'reconcile', says: /at least one system of record/ },
  { name: 'negative numeric duration', set: ['faults.0.at=-5'], path: 'faults.0.at', says: />= 0/ },
  { name: 'unknown fault target', set: ['faults.0.target=nowhere'], path: 'faults.0.target', says: /unknown target "nowhere"/ },
  { name: 'harness as fault target', set: ['faults.0.target=temporal'], path: 'faults.0.target', says: /orchestrator running the experiment/ },
  // 192.0.2.0/24 is TEST-NET-1: never contacted, the resolver rejects it first.
  { name: 'non-loopback load target', set: ['load.target=http://192.0.2.10:8000'], path: 'load.target', says: /not a loopback address/ },
];
