// The activity surface the experiment workflow drives, as types only: each phase's
// activities come from its own folder (workers register the same objects).
import type * as scenario from '../activities/scenario/activities.ts';
import type * as ledger from '../activities/ledger/activities.ts';
import type * as probe from '../activities/probe/activities.ts';
import type * as drain from '../activities/drain/activities.ts';
import type { reportActivities } from '../activities/report/index.ts';
import type { faultActivities } from '../activities/faults/index.ts';
import type { LoadActivities as LoadActivitiesT } from '../activities/load/index.ts';
import type { reconcileActivities } from '../activities/reconcile/index.ts';
import type { notifyActivities } from '../activities/notify/index.ts';

export type ScenarioActivities = typeof scenario;
export type LedgerActivities = typeof ledger;
export type ProbeActivities = typeof probe;
export type DrainActivities = typeof drain;
export type ReportActivities = typeof reportActivities;
export type LoadActivities = LoadActivitiesT;
export type FaultActivities = typeof faultActivities;
export type ReconcileActivities = typeof reconcileActivities;
export type NotifyActivities = typeof notifyActivities;
