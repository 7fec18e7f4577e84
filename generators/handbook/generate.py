#!/usr/bin/env python3
"""
A second traffic generator for riskloop, written independently of simulator/ and with other fraud
mechanics: the transaction-data simulator of the Fraud Detection Handbook (Le Borgne, Siblini,
Lebichot, Bontempi: "Reproducible Machine Learning for Credit Card Fraud Detection - Practical
Handbook", ULB, chapter 3), re-implemented from its published description, plus card-testing
bursts. Card-present only: one account and one card per customer, every merchant is one terminal,
and every fraud comes back as a chargeback about 7 days later.

The world (all distances in the handbook's 100 x 100 grid units):
  customers  a home (x, y) uniform on the grid, a mean amount uniform 5-100 EUR (standard deviation
             half of it), a mean number of transactions per day uniform 0-4;
  terminals  a location uniform on the grid; a customer pays only at terminals within --radius (5)
             of home (customers with none pay nowhere, as in the handbook);
  a day      Poisson(mean per day) transactions per customer, at a terminal drawn uniformly among the
             reachable ones, at a second of the day drawn from N(12:00, 20 000 s) (redrawn outside
             the day), amount N(mean, sd) (uniform 0-2*mean when negative).
Fraud (each fraud transaction names the first scenario that made it fraud):
  amount_threshold      every transaction above 220 EUR is fraud (handbook scenario 1);
  compromised_terminal  each day Poisson(2 per 10 000 terminals) terminals are compromised: all their
                        transactions of the next 28 days are fraud (scenario 2);
  compromised_card      each day Poisson(3 per 5 000 customers) cards are compromised: over the next
                        14 days a third of their transactions are fraud at 5x the amount (scenario 3);
  card_testing          (not in the handbook) Poisson(1 per 5 000 customers) per day: a copied card is
                        probed with 3-8 payments of 0.50-2.50 EUR, 20 s to 3 min apart, at
                        unattended terminals anywhere on the grid, then (p 0.7) a cash-out of
                        lognormal median 400 EUR 10 min - 6 h later at another far terminal.
--fraud-scale multiplies the three daily rates. Chargebacks: a fraud transaction is disputed with
probability 0.95 (0.5 for amounts up to 5 EUR: nobody notices a probe), reportedAt = eventTime +
7 days + N(0, 12 h) (at least 1 day). 0.02 % of legitimate transactions get a non-fraud service
dispute (30-60 days later), so `fraud: false` chargebacks exist too.

Output (--out-dir): the JSONL layout `riskloop produce --from-dir` reads — transactions.jsonl,
kyc.jsonl, device-signals.jsonl (empty: card-present traffic has no devices), chargebacks.jsonl,
analyst-outcomes.jsonl (empty) — one {"key","timestamp","value"} per line sorted by timestamp, keyed
by the account token (at_ + base64url(HMAC-SHA256(key, accountId))[:32], processors/tokenizer.ts)
under RISKLOOP_ACCOUNT_TOKEN_KEY (or --account-token-key-file); truth.jsonl (transactionId,
eventTime, fraud, pattern, incidentId, harvestedBy: null) and summary.json. Card numbers are 16
digits on published test BINs with a Luhn check digit. Seeded (numpy PCG64): the same seed, options
and key give byte-identical files.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import math
import os
import re
import sys
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
GRID = 100.0
# Where the grid lies on the map (so lat/lon are plausible): a square of about 110 x 110 km around
# Brussels; every terminal is in Belgium and pays in EUR.
LAT0, LON0, LAT_SPAN, LON_SPAN = 50.35, 3.85, 1.0, 1.55
COUNTRY, CURRENCY = 'BE', 'EUR'
TEST_BINS = ['411111', '424242', '401288', '555555', '510510', '222300']
# Card-present merchant categories, weights: groceries, restaurants, fuel, pharmacies, clothing,
# department stores, electronics, fast food. Unattended ones (parking, vending, transit, car wash)
# are where card testers probe.
MCCS = [('5411', 0.3), ('5812', 0.15), ('5541', 0.12), ('5912', 0.08), ('5651', 0.1), ('5311', 0.1), ('5732', 0.05), ('5814', 0.1)]
UNATTENDED_MCCS = ['7523', '5499', '4111', '7542']
UNATTENDED_SHARE = 0.08
THRESHOLD_EUR = 220.0
TERMINAL_DAYS = 28
CARD_DAYS = 14


def decode_key(text: str) -> bytes:
    """Hex (tried first) or base64/base64url, as processors/tokenizer.ts decodeSecret."""
    text = text.strip()
    if re.fullmatch(r'(?:[0-9a-fA-F]{2})+', text):
        return bytes.fromhex(text)
    if re.fullmatch(r'[A-Za-z0-9+/_-]+={0,2}', text):
        return base64.b64decode(text.replace('-', '+').replace('_', '/') + '=' * (-len(text) % 4))
    raise SystemExit('generate.py: the account-token key must be hex or base64 (not printed)')


def account_token(key: bytes, account_id: str) -> str:
    mac = hmac.new(key, account_id.encode('utf-8'), hashlib.sha256).digest()
    return 'at_' + base64.urlsafe_b64encode(mac).decode('ascii').rstrip('=')[:32]


def luhn_check_digit(partial: str) -> int:
    total, double = 0, True
    for ch in reversed(partial):
        d = ord(ch) - 48
        if double:
            d *= 2
            if d > 9:
                d -= 9
        total += d
        double = not double
    return (10 - total % 10) % 10


def issue_pans(rng: np.random.Generator, n: int) -> list[str]:
    pans: list[str] = []
    seen: set[str] = set()
    while len(pans) < n:
        body = TEST_BINS[int(rng.integers(len(TEST_BINS)))] + ''.join(str(d) for d in rng.integers(0, 10, size=9))
        pan = body + str(luhn_check_digit(body))
        if pan not in seen:
            seen.add(pan)
            pans.append(pan)
    return pans


def minor(eur: float) -> int:
    return max(1, int(round(eur * 100)))


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(description=__doc__.split('\n\n')[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--out-dir', required=True)
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--customers', type=int, default=1000)
    p.add_argument('--terminals', type=int, default=None, help='default: 2 per customer (the handbook: 10 000 for 5 000)')
    p.add_argument('--days', type=int, default=56)
    p.add_argument('--start', default='2026-01-05', help='first day, UTC (YYYY-MM-DD)')
    p.add_argument('--radius', type=float, default=5.0)
    p.add_argument('--fraud-scale', type=float, default=1.0)
    p.add_argument('--label-tail-days', type=float, default=30.0, help='labels later than this after the last day are not written')
    p.add_argument('--account-token-key-file', default=None)
    args = p.parse_args(argv)
    if args.customers < 1 or args.days < 1 or args.seed < 0:
        p.error('--customers, --days must be positive and --seed non-negative')
    n_terminals = args.terminals if args.terminals is not None else 2 * args.customers
    key_text = Path(args.account_token_key_file).read_text() if args.account_token_key_file else os.environ.get('RISKLOOP_ACCOUNT_TOKEN_KEY')
    if not key_text:
        raise SystemExit('generate.py: set RISKLOOP_ACCOUNT_TOKEN_KEY (the key the loop tokenizes with) or --account-token-key-file')
    key = decode_key(key_text)
    if len(key) < 32:
        raise SystemExit('generate.py: the account-token key must be at least 32 bytes')
    start_ms = int(datetime.strptime(args.start, '%Y-%m-%d').replace(tzinfo=timezone.utc).timestamp() * 1000)
    end_ms = start_ms + args.days * DAY_MS
    label_horizon = end_ms + int(args.label_tail_days * DAY_MS)

    rng = np.random.default_rng(args.seed)
    # --- customers and terminals (handbook: generate_customer_profiles_table / terminal table) ---
    n = args.customers
    cx, cy = rng.uniform(0, GRID, n), rng.uniform(0, GRID, n)
    mean_amount = rng.uniform(5, 100, n)
    std_amount = mean_amount / 2
    tx_per_day = rng.uniform(0, 4, n)
    tx_, ty_ = rng.uniform(0, GRID, n_terminals), rng.uniform(0, GRID, n_terminals)
    unattended = rng.random(n_terminals) < UNATTENDED_SHARE
    mcc_codes = [c for c, _ in MCCS]
    mcc_p = np.array([w for _, w in MCCS]) / sum(w for _, w in MCCS)
    terminal_mcc = [UNATTENDED_MCCS[int(rng.integers(len(UNATTENDED_MCCS)))] if unattended[t] else mcc_codes[int(rng.choice(len(mcc_codes), p=mcc_p))] for t in range(n_terminals)]
    reachable = [np.flatnonzero((tx_ - cx[c]) ** 2 + (ty_ - cy[c]) ** 2 < args.radius ** 2) for c in range(n)]
    pans = issue_pans(rng, n)
    account_ids = [f'HB-{c:06d}' for c in range(n)]
    tokens = [account_token(key, a) for a in account_ids]
    unattended_ids = np.flatnonzero(unattended)

    # --- legitimate transactions: (customer, terminal, time, amount EUR) ---
    cust_l, term_l, time_l, amt_l = [], [], [], []
    for day in range(args.days):
        counts = rng.poisson(tx_per_day)
        for c in np.flatnonzero(counts):
            k = int(counts[c])
            if len(reachable[c]) == 0:
                continue
            secs = rng.normal(43_200, 20_000, k)
            while np.any((secs < 0) | (secs >= 86_400)):
                bad = (secs < 0) | (secs >= 86_400)
                secs[bad] = rng.normal(43_200, 20_000, int(bad.sum()))
            amounts = rng.normal(mean_amount[c], std_amount[c], k)
            neg = amounts < 0
            if neg.any():
                amounts[neg] = rng.uniform(0, 2 * mean_amount[c], int(neg.sum()))
            terms = rng.choice(reachable[c], size=k)
            for i in range(k):
                cust_l.append(int(c))
                term_l.append(int(terms[i]))
                time_l.append(start_ms + day * DAY_MS + int(secs[i] * 1000) + int(rng.integers(0, 1000)))
                amt_l.append(float(amounts[i]))
    m = len(cust_l)
    pattern: list[str | None] = [None] * m
    incident: list[str | None] = [None] * m

    # --- scenario 3, compromised cards (first, so their 5x amounts count for scenario 1 too) ---
    by_customer: dict[int, list[int]] = {}
    for i, c in enumerate(cust_l):
        by_customer.setdefault(c, []).append(i)
    card_rate = 3 * n / 5000 * args.fraud_scale
    term_rate = 2 * n_terminals / 10_000 * args.fraud_scale
    test_rate = 1 * n / 5000 * args.fraud_scale
    n_card_incidents = n_term_incidents = n_test_incidents = 0
    for day in range(args.days):
        for c in rng.choice(n, size=int(rng.poisson(card_rate)), replace=False) if card_rate > 0 else []:
            n_card_incidents += 1
            lo, hi = start_ms + day * DAY_MS, start_ms + (day + CARD_DAYS) * DAY_MS
            inc = f'card-{n_card_incidents:04d}'
            for i in by_customer.get(int(c), []):
                if lo <= time_l[i] < hi and pattern[i] is None and rng.random() < 1 / 3:
                    amt_l[i] *= 5
                    pattern[i], incident[i] = 'compromised_card', inc
    # --- scenario 2, compromised terminals ---
    by_terminal: dict[int, list[int]] = {}
    for i, t in enumerate(term_l):
        by_terminal.setdefault(t, []).append(i)
    for day in range(args.days):
        for t in rng.choice(n_terminals, size=int(rng.poisson(term_rate)), replace=False) if term_rate > 0 else []:
            n_term_incidents += 1
            lo, hi = start_ms + day * DAY_MS, start_ms + (day + TERMINAL_DAYS) * DAY_MS
            inc = f'terminal-{n_term_incidents:04d}'
            for i in by_terminal.get(int(t), []):
                if lo <= time_l[i] < hi and pattern[i] is None:
                    pattern[i], incident[i] = 'compromised_terminal', inc
    # --- scenario 1, amount above the threshold ---
    for i in range(m):
        if pattern[i] is None and amt_l[i] > THRESHOLD_EUR:
            pattern[i], incident[i] = 'amount_threshold', None
    # --- card testing bursts (added transactions) ---
    for day in range(args.days):
        for c in rng.choice(n, size=int(rng.poisson(test_rate)), replace=False) if test_rate > 0 and len(unattended_ids) > 1 else []:
            n_test_incidents += 1
            inc = f'testing-{n_test_incidents:04d}'
            t = start_ms + day * DAY_MS + int(rng.integers(0, DAY_MS))
            for _ in range(int(rng.integers(3, 9))):
                cust_l.append(int(c)); term_l.append(int(rng.choice(unattended_ids))); time_l.append(t)
                amt_l.append(round(float(rng.uniform(0.5, 2.5)), 2)); pattern.append('card_testing'); incident.append(inc)
                t += int(rng.integers(20_000, 180_000))
            if rng.random() < 0.7:
                t += int(rng.integers(10 * 60_000, 6 * HOUR_MS))
                cust_l.append(int(c)); term_l.append(int(rng.integers(n_terminals))); time_l.append(t)
                amt_l.append(float(rng.lognormal(math.log(400), 0.4))); pattern.append('card_testing'); incident.append(inc)

    # --- records, in time order (ties: generation order) ---
    order = sorted(range(len(cust_l)), key=lambda i: (time_l[i], i))
    order = [i for i in order if time_l[i] < end_ms]
    txns, truth, chargebacks = [], [], []
    for seq, i in enumerate(order):
        c, t, ts = cust_l[i], term_l[i], time_l[i]
        tid = f'hb.{args.seed:x}.{seq:07d}'
        amount = minor(amt_l[i])
        value = {
            'transactionId': tid, 'eventTime': ts, 'accountId': account_ids[c], 'pan': pans[c], 'amountMinor': amount,
            'currency': CURRENCY, 'merchantId': f'TRM-{t:06d}', 'merchantName': None, 'terminalId': f'TRM-{t:06d}',
            'mcc': terminal_mcc[t], 'merchantCountry': COUNTRY, 'channel': 'POS', 'cardPresent': True, 'threeDsAuthenticated': None,
            'lat': round(LAT0 + tx_[t] / GRID * LAT_SPAN, 5), 'lon': round(LON0 + ty_[t] / GRID * LON_SPAN, 5), 'deviceId': None, 'ip': None,
        }
        txns.append({'key': tokens[c], 'timestamp': ts, 'value': value})
        fraud = pattern[i] is not None
        truth.append({'transactionId': tid, 'eventTime': ts, 'fraud': fraud, 'pattern': pattern[i], 'incidentId': incident[i], 'harvestedBy': None})
        scheme_visa = pans[c].startswith('4')
        if fraud:
            if rng.random() < (0.5 if amount <= 500 else 0.95):
                reported = ts + max(DAY_MS, 7 * DAY_MS + int(rng.normal(0, 12 * HOUR_MS)))
                chargebacks.append((reported, tid, c, '10.3' if scheme_visa else '4837', amount, True))
        elif rng.random() < 0.0002:
            reported = ts + int(rng.uniform(30, 60) * DAY_MS)
            chargebacks.append((reported, tid, c, '13.1' if scheme_visa else '4855', amount, False))
    chargebacks = sorted((cb for cb in chargebacks if cb[0] <= label_horizon), key=lambda cb: (cb[0], cb[1]))
    cb_records = [
        {'key': tokens[c], 'timestamp': rep, 'value': {'chargebackId': f'cb.{args.seed:x}.{k:06d}', 'transactionId': tid, 'accountId': account_ids[c],
                                                       'reasonCode': code, 'amountMinor': amount, 'currency': CURRENCY, 'reportedAt': rep, 'fraud': fr}}
        for k, (rep, tid, c, code, amount, fr) in enumerate(chargebacks)
    ]
    # One KYC record per account, verified before the start (the loop reads tier and account age).
    kyc = []
    for c in range(n):
        updated = start_ms - int(rng.integers(1, 365)) * DAY_MS - int(rng.integers(0, DAY_MS))
        opened = updated - int(rng.integers(30, 3650)) * DAY_MS
        kyc.append({'key': tokens[c], 'timestamp': updated, 'value': {
            'accountToken': tokens[c], 'entityType': 'PERSON', 'status': 'VERIFIED', 'riskTier': 'LOW', 'accountOpenedAt': opened,
            'pep': False, 'sanctioned': False, 'watchlistHits': 0, 'country': COUNTRY, 'updatedAt': updated, 'holderName': None}})
    kyc.sort(key=lambda r: (r['timestamp'], r['key']))

    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)

    def write(name: str, rows: list) -> None:
        with open(out / name, 'w', encoding='utf-8') as f:
            for r in rows:
                f.write(json.dumps(r, separators=(',', ':'), ensure_ascii=False) + '\n')

    write('transactions.jsonl', txns)
    write('kyc.jsonl', kyc)
    write('device-signals.jsonl', [])
    write('chargebacks.jsonl', cb_records)
    write('analyst-outcomes.jsonl', [])
    write('truth.jsonl', truth)
    frauds = [t for t in truth if t['fraud']]
    per_pattern = {p_: sum(1 for t in frauds if t['pattern'] == p_) for p_ in ['amount_threshold', 'compromised_terminal', 'compromised_card', 'card_testing']}
    per_week = []
    for w in range(math.ceil(args.days / 7)):
        lo, hi = start_ms + w * 7 * DAY_MS, start_ms + (w + 1) * 7 * DAY_MS
        wk = [t for t in truth if lo <= t['eventTime'] < hi]
        per_week.append({'week': w, 'transactions': len(wk), 'fraud': sum(t['fraud'] for t in wk)})
    summary = {
        'generator': 'handbook', 'seed': args.seed, 'customers': n, 'terminals': n_terminals, 'days': args.days, 'start': args.start,
        'radius': args.radius, 'fraudScale': args.fraud_scale,
        'customersWithoutTerminals': int(sum(1 for r in reachable if len(r) == 0)),
        'incidents': {'compromised_terminal': n_term_incidents, 'compromised_card': n_card_incidents, 'card_testing': n_test_incidents},
        'records': {'transactions': len(txns), 'kyc': len(kyc), 'deviceSignals': 0, 'chargebacks': len(cb_records), 'analystOutcomes': 0},
        'fraud': {'transactions': len(frauds), 'rate': round(len(frauds) / max(1, len(txns)), 6), 'perPattern': per_pattern,
                  'reported': round(sum(1 for cb in cb_records if cb['value']['fraud']) / max(1, len(frauds)), 4)},
        'perWeek': per_week,
    }
    (out / 'summary.json').write_text(json.dumps(summary, indent=2) + '\n')
    print(json.dumps({'transactions': len(txns), 'fraud': len(frauds), 'rate': summary['fraud']['rate'], 'perPattern': per_pattern, 'chargebacks': len(cb_records)}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
