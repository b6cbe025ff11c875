/** The outputs a new player starts with: gear from its number, so players differ. Pure. */
export function starterWrites(playerId: string, index: number) {
  return [
    {
      actorId: playerId,
      system: "equipment",
      output: {
        primary: [
          { dimension: "strength", bucket: "FLAT", value: 10 + (index % 7) },
          { dimension: "armor", bucket: "FLAT", value: 5 + (index % 3) },
        ],
      },
    },
  ];
}

/** Registers `count` players named `<prefix>-<n>` over HTTP; returns their ids. */
export async function registerPlayers(url: string, prefix: string, count: number, headers = {}) {
  const ids = Array.from({ length: count }, (_, index) => `${prefix}-${index}`);
  for (let start = 0; start < ids.length; start += 200) {
    const writes = ids.slice(start, start + 200).flatMap((id, at) => starterWrites(id, start + at));
    const response = await fetch(`${url}/stats/actors`, {
      method: "PUT",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ writes }),
    });
    if (!response.ok) throw new Error(`registering players: HTTP ${response.status}`);
  }
  return ids;
}

/** Queues every player for `rounds` matches, through the event API's in-process twin. */
export function queueEvents(ids: readonly string[], rounds: number) {
  return ids.map((playerId) => ({ name: "arena/queue.joined", data: { playerId, rounds } }));
}

/** Sums the players' recorded wins (= matches finished) from a batch snapshot read. */
export async function finishedMatches(url: string, ids: readonly string[]): Promise<number> {
  let wins = 0;
  for (let start = 0; start < ids.length; start += 500) {
    const query = ids.slice(start, start + 500).join(",");
    const response = await fetch(`${url}/stats/actors?ids=${query}`);
    const { results } = (await response.json()) as {
      results: { snapshot?: { primary: Record<string, number> } }[];
    };
    for (const result of results) wins += result.snapshot?.primary.wins ?? 0;
  }
  return wins;
}
