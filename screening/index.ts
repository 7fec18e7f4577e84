/** Sanctions and PEP screening: list loading and an explainable fuzzy name matcher (docs/screening.md). */
export { jaro, jaroWinkler } from './jaroWinkler.js';
export { foldName, nameTokens } from './normalize.js';
export { type ListEntry, type ListFormat, type ListKind, type ListRowError, type ListVersion, type SanctionsList, ListLoadError, detectFormat, entryNames, loadList, parseOfac, parseOpenSanctions } from './lists.js';
export { DEFAULT_THRESHOLD, type Match, type Party, entryParty, type MatchExplanation, type ScreenOptions, ScreeningIndex, type TokenPair } from './matcher.js';
