/**
 * Compromised terminal (skimming, a common point of purchase). A gang fits a skimmer to a busy
 * terminal for a few days to two weeks; every card read there in that window is copied, and the
 * gang harvests a share of them. Some days after the skimmer comes off, the copies are cashed out
 * card-present (counterfeit) in another city, often another country: electronics, jewellery,
 * department stores and ATMs, each card a few times within hours, the whole batch over a few days.
 *
 * Signature: the fraud itself is card-present far from the cardholder's home at high amounts,
 * but the tell-tale is upstream: many cards with fraud share one terminal they all used shortly
 * before. The truth marks those legitimate transactions at the terminal with the incident id
 * (`harvestedBy`), so the common point of purchase can be evaluated.
 *
 * Terminals are picked in proportion to their traffic (by drawing a random legit card-present
 * transaction and taking its terminal): skimmers go where the cards are.
 */
import type { Card, Merchant, SimTransaction, Terminal } from '../model.js';
import { DAY, MINUTE, POS_HOURLY_WEIGHTS, drawTimeOfDay, utcOnDay } from '../time.js';
import { CITIES } from '../world/cities.js';
import { type FraudContext, type FraudIncident, expectedIncidents, incidentId, withinPeriod } from './incident.js';

const CASH_OUT_MCCS: Readonly<Record<string, number>> = { '5732': 4, '5944': 3, '6011': 3, '5311': 2, '5651': 1 };

export function compromisedTerminal(ctx: FraudContext): FraudIncident[] {
  const { rng } = ctx;
  const p = ctx.config.fraud.compromisedTerminal;
  const cardPresent = ctx.legit.filter((t) => t.terminal !== null);
  if (cardPresent.length === 0) return [];
  const mean = expectedIncidents(p.incidentsPerThousandTerminalDays, ctx.merchants.terminals.length, ctx);
  const count = rng.poisson(mean);
  const incidents: FraudIncident[] = [];
  for (let n = 0; n < count; n++) {
    const id = incidentId('compromised_terminal', n);
    const fraud = { pattern: 'compromised_terminal' as const, incidentId: id };
    const terminal: Terminal = rng.pick(cardPresent).terminal!;
    const windowStart = ctx.start + Math.floor(rng.next() * (ctx.end - ctx.start));
    const windowEnd = windowStart + Math.round(rng.uniform(p.windowDays[0], p.windowDays[1]) * DAY);

    // Cards read at the terminal during the window, in the order they were first read.
    const harvested: Card[] = [];
    const decided = new Map<Card, boolean>();
    for (const t of ctx.legit) {
      if (t.terminal !== terminal || t.eventTime < windowStart || t.eventTime >= windowEnd) continue;
      let take = decided.get(t.card);
      if (take === undefined) {
        take = rng.chance(p.harvestProbability);
        decided.set(t.card, take);
        if (take) harvested.push(t.card);
      }
      if (take) t.harvestedBy = id;
    }

    const origin = terminal.merchant.city!;
    const cashOutCity = rng.pick(CITIES.filter((c) => c.name !== origin.name));
    const shops: readonly Merchant[] = ctx.merchants.byCity.get(cashOutCity.name) ?? [];
    const cashOutStart = windowEnd + Math.round(rng.lognormal(p.cashOutDelayMedianDays, p.cashOutDelaySigma) * DAY);
    const txns: SimTransaction[] = [];
    for (const card of harvested) {
      // Whole simulated days from the one after the cash-out start: never before the harvest.
      const dayIndex = Math.ceil((cashOutStart - ctx.start) / DAY) + Math.floor(rng.uniform(0, p.cashOutSpreadDays));
      let t = utcOnDay(ctx.start + dayIndex * DAY, drawTimeOfDay(rng, POS_HOURLY_WEIGHTS), cashOutCity.utcOffsetHours);
      const uses = rng.int(p.transactionsPerCard[0], p.transactionsPerCard[1]);
      for (let i = 0; i < uses; i++) {
        if (i > 0) t += Math.round(rng.uniform(5, 90) * MINUTE);
        const merchant = rng.weighted(shops, (m) => CASH_OUT_MCCS[m.category.mcc] ?? 0);
        txns.push(
          ctx.factory.create({
            eventTime: t,
            card,
            merchant,
            terminal: rng.pick(merchant.terminals),
            amountEur: rng.lognormal(p.medianAmountEur, p.amountSigma),
            fraud,
          }),
        );
      }
    }
    incidents.push({ incidentId: id, pattern: 'compromised_terminal', startedAt: windowStart, transactions: withinPeriod(txns, ctx) });
  }
  return incidents;
}
