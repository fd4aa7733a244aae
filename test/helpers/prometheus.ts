import parsePrometheusTextFormat, { type PrometheusSample } from "parse-prometheus-text-format";

/**
 * A scrape of GET /metrics, parsed by parse-prometheus-text-format. That parser folds every
 * label set of a histogram into one and drops their _count and _sum
 * (yunyu/parse-prometheus-text-format#13, unfixed), so histograms are handed to it untyped:
 * their `_bucket`, `_sum` and `_count` series then parse as families of their own, labels intact
 * (one run of lines per label set, gathered here by name).
 */
export class Scrape {
  private readonly samplesByName = new Map<string, PrometheusSample[]>();

  constructor(readonly text: string) {
    const histogramsUntyped = text.replace(/^# TYPE \S+ histogram$/gm, "");
    for (const family of parsePrometheusTextFormat(histogramsUntyped)) {
      this.samplesByName.set(family.name, [...(this.samplesByName.get(family.name) ?? []), ...family.metrics]);
    }
  }

  has(name: string): boolean {
    return (this.samplesByName.get(name)?.length ?? 0) > 0;
  }

  /** The samples of `name` whose labels include all of `labels`. */
  samples(name: string, labels: Record<string, string> = {}) {
    return (this.samplesByName.get(name) ?? []).filter((sample) => Object.entries(labels).every(([key, value]) => sample.labels?.[key] === value));
  }

  /** The sum of those samples' values; 0 when there is none (a series not yet observed). */
  value(name: string, labels: Record<string, string> = {}): number {
    return this.samples(name, labels).reduce((sum, sample) => sum + Number(sample.value), 0);
  }

  /** The values of one label across the samples of `name`. */
  labelValues(name: string, label: string): string[] {
    return [...new Set(this.samples(name).flatMap((sample) => (sample.labels?.[label] === undefined ? [] : [sample.labels[label]!])))];
  }
}

/** How much each counter moved from one scrape to the next. */
export const moved = (before: Scrape, after: Scrape) => (name: string, labels: Record<string, string> = {}) => after.value(name, labels) - before.value(name, labels);
