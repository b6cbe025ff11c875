import { describe, expect, it } from "vitest";
import { pairPlayers, pickWinner, power } from "./arena-functions.js";

describe("matchmaking and refereeing rules", () => {
  it("pairs players in arrival order, each once, and sends the odd one back", () => {
    const queued = ["a", "b", "a", "c", "d", "e"].map((playerId) => ({ playerId, rounds: 1 }));
    const { pairs, left } = pairPlayers(queued);
    expect(pairs.map((pair) => pair.map((player) => player.playerId))).toEqual([
      ["a", "b"],
      ["c", "d"],
    ]);
    expect(left?.playerId).toBe("e");
  });

  it("lets the stronger player win, and breaks ties the same way every time", () => {
    expect(pickWinner("m", [power({ strength: 3, armor: 1 }), power({ strength: 2 })])).toBe(0);
    expect(pickWinner("m", [1, 9])).toBe(1);
    expect(pickWinner("tie-1", [5, 5])).toBe(pickWinner("tie-1", [5, 5]));
  });
});
