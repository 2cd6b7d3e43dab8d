"""How the bench reports: percentiles, and rows printed as one Markdown table."""


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


def p50_p95(samples):
    return f"{ms(percentile(samples, 0.5))} / {ms(percentile(samples, 0.95))}"


def print_table(rows: list[tuple[str, str, str]]):
    width = max(len(name) for name, _, _ in rows)
    print(f"| {'measurement':<{width}} | result | target |")
    print(f"|{'-' * (width + 2)}|---|---|")
    for name, result, target in rows:
        print(f"| {name:<{width}} | {result} | {target} |")
