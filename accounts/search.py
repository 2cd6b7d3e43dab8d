"""The member directory's full-text index: building entries and querying them.

On PostgreSQL this is real full-text search: a weighted tsvector per member (name above
headline above bio and location), English stemming, a GIN index, and results ranked
by ts_rank. SQLite has none of that, so there the fallback is plainer: every word of the
query must appear somewhere in the entry, and results are ordered by name. Good enough
for development; production runs on PostgreSQL.
"""

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector
from django.db import connection
from django.db.models import F, Q, QuerySet

from .models import Profile, SearchEntry

LANGUAGE = "english"

VECTOR = (
    SearchVector("display_name", weight="A", config=LANGUAGE)
    + SearchVector("headline", weight="B", config=LANGUAGE)
    + SearchVector("bio", "location", weight="C", config=LANGUAGE)
)


def use_postgres() -> bool:
    return connection.vendor == "postgresql"


def rebuild_entries(user_ids) -> int:
    """Make these members' entries match their current rows; return how many are indexed.

    Active members with a profile get a fresh entry; anyone else (deactivated, deleted,
    no profile yet) loses theirs. Running it twice leaves the same entries.
    """
    user_ids = list(user_ids)
    entries = [
        SearchEntry(
            user_id=profile.user_id,
            display_name=profile.display_name,
            headline=profile.headline,
            bio=profile.bio,
            location=profile.location,
            document=" ".join(
                [profile.display_name, profile.headline, profile.bio, profile.location]
            ).lower(),
        )
        for profile in Profile.objects.filter(user_id__in=user_ids, user__is_active=True)
    ]
    indexed = [entry.user_id for entry in entries]
    SearchEntry.objects.filter(user_id__in=user_ids).exclude(user_id__in=indexed).delete()
    SearchEntry.objects.bulk_create(
        entries,
        update_conflicts=True,
        unique_fields=["user"],
        update_fields=["display_name", "headline", "bio", "location", "document", "indexed_at"],
    )
    if use_postgres():
        SearchEntry.objects.filter(user_id__in=indexed).update(vector=VECTOR)
    return len(entries)


def search(query: str) -> QuerySet[SearchEntry]:
    """Entries matching the query, best first. Reads only the index, never the profiles."""
    if use_postgres():
        terms = SearchQuery(query, search_type="websearch", config=LANGUAGE)
        return (
            SearchEntry.objects.filter(vector=terms)
            .annotate(rank=SearchRank(F("vector"), terms))
            .order_by("-rank", "display_name", "user_id")
        )
    matches = Q()
    for word in query.lower().split():
        matches &= Q(document__contains=word)
    return SearchEntry.objects.filter(matches).order_by("display_name", "user_id")
