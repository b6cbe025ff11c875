import { TroupeError } from "@troupe/core";
import { createFunction, type FlowFunction } from "@troupe/flows";
import type { StatsService } from "@troupe/runtime";

/** `arena/queue.joined`: a player wants a match; `rounds` counts the matches it still plays. */
export interface QueueJoined {
  readonly playerId: string;
  readonly rounds: number;
}

/** `arena/match.started`: two players were paired. */
export interface MatchStarted {
  readonly matchId: string;
  readonly players: readonly [QueueJoined, QueueJoined];
}

/** A player's fighting power: what the match and the referee compare. */
export function power(primary: Readonly<Record<string, number>>): number {
  return (primary.strength ?? 0) + (primary.armor ?? 0);
}

/** The referee's pick: the stronger player, a coin (from the match id) on a tie. Pure. */
export function pickWinner(matchId: string, powers: readonly [number, number]): 0 | 1 {
  if (powers[0] !== powers[1]) return powers[0] > powers[1] ? 0 : 1;
  let hash = 0;
  for (const char of matchId) hash = (hash * 31 + char.charCodeAt(0)) | 0;
  return (hash & 1) as 0 | 1;
}

/** Pairs players in arrival order; an odd one out goes back to the queue. Pure. */
export function pairPlayers(queued: readonly QueueJoined[]): {
  pairs: [QueueJoined, QueueJoined][];
  left: QueueJoined | undefined;
} {
  const pairs: [QueueJoined, QueueJoined][] = [];
  const unique = [...new Map(queued.map((player) => [player.playerId, player])).values()];
  for (let i = 0; i + 1 < unique.length; i += 2) {
    pairs.push([unique[i] as QueueJoined, unique[i + 1] as QueueJoined]);
  }
  return { pairs, left: unique.length % 2 === 1 ? unique[unique.length - 1] : undefined };
}

/** The arena's flows: matchmaking, the match and its referee. `stats` is read when they run. */
export function createArenaFunctions(
  stats: () => StatsService | undefined,
): FlowFunction<unknown>[] {
  const service = () => {
    const found = stats();
    if (found === undefined) throw new TroupeError("UNAVAILABLE", "the arena needs `stats`");
    return found;
  };
  const powers = async (players: readonly QueueJoined[]) => {
    const results = await service().snapshots(players.map((player) => player.playerId));
    return results.map((result) => ("snapshot" in result ? power(result.snapshot.primary) : 0));
  };

  const matchmaking = createFunction(
    {
      id: "arena-matchmaking",
      triggers: [{ event: "arena/queue.joined" }],
      batchEvents: { maxSize: 10, timeout: "1s" },
    },
    async ({ events, step }) => {
      const { pairs, left } = pairPlayers(
        events.map((event) => event.data as unknown as QueueJoined),
      );
      const started = pairs.map((players, index) => ({
        name: "arena/match.started",
        data: { matchId: `${events[0]?.id ?? "match"}-${index}`, players },
      }));
      const requeued = left ? [{ name: "arena/queue.joined", data: { ...left } }] : [];
      if (started.length + requeued.length > 0) {
        await step.sendEvent("pair", [...started, ...requeued]);
      }
      return { matches: started.length };
    },
  );

  const referee = createFunction(
    { id: "arena-referee", triggers: [{ event: "arena/match.started" }] },
    async ({ event, step }) => {
      const match = event.data as unknown as MatchStarted;
      await step.sleep("play", "200ms");
      const winner = await step.run("decide", async () => {
        const [first = 0, second = 0] = await powers(match.players);
        return match.players[pickWinner(match.matchId, [first, second])].playerId;
      });
      await step.sendEvent("report", {
        name: "arena/match.finished",
        data: { matchId: match.matchId, winner },
      });
      return winner;
    },
  );

  const match = createFunction(
    { id: "arena-match", triggers: [{ event: "arena/match.started" }] },
    async ({ event, step }) => {
      const { matchId, players } = event.data as unknown as MatchStarted;
      await step.sleep("walk-in", "100ms");
      const result = await step.waitForEvent("result", {
        event: "arena/match.finished",
        timeout: "30s",
        match: "data.matchId",
      });
      // Without a referee's word in time, the stronger player wins.
      const winner = await step.run("winner", async () => {
        if (typeof result?.data.winner === "string") return result.data.winner;
        const [first = 0, second = 0] = await powers(players);
        return players[pickWinner(matchId, [first, second])].playerId;
      });
      await step.run("rewards", async () => {
        const ids = players.map((player) => player.playerId);
        const before = await service().snapshots(ids);
        const record = (index: number, key: "wins" | "losses") => {
          const entry = before[index];
          return entry !== undefined && "snapshot" in entry
            ? (entry.snapshot.primary[key] ?? 0)
            : 0;
        };
        await service().write(
          ids.flatMap((playerId, index) => {
            const won = playerId === winner;
            const wins = record(index, "wins") + (won ? 1 : 0);
            const losses = record(index, "losses") + (won ? 0 : 1);
            return [
              {
                actorId: playerId,
                system: "rewards",
                output: {
                  primary: [
                    { dimension: "wins", bucket: "FLAT", value: wins, system: "rewards" },
                    { dimension: "losses", bucket: "FLAT", value: losses, system: "rewards" },
                  ],
                  derived: [],
                  caps: [],
                  meta: { system: "rewards" },
                },
              },
              // The winner's buff: +10 % strength until the next loss.
              {
                actorId: playerId,
                system: "buffs",
                output: won
                  ? {
                      primary: [
                        { dimension: "strength", bucket: "MULT", value: 0.1, system: "buffs" },
                      ],
                      derived: [],
                      caps: [],
                      meta: { system: "buffs" },
                    }
                  : null,
              },
            ] as const;
          }),
        );
      });
      const again = players
        .filter((player) => player.rounds > 1)
        .map((player) => ({
          name: "arena/queue.joined",
          data: { playerId: player.playerId, rounds: player.rounds - 1 },
        }));
      if (again.length > 0) await step.sendEvent("requeue", again);
      return { winner };
    },
  );

  return [matchmaking, referee, match] as FlowFunction<unknown>[];
}
