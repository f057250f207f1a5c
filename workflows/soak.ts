export async function soakExperiment(): Promise<void> {}
