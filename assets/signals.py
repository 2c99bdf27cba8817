"""Questions assets asks the apps above it (orders, …) without importing them.

Receivers return their answer; `send` collects them.
"""

from django.dispatch import Signal

# sender=Plan, plan=<Plan>: receivers return True when something (an order) refers to it,
# so the plan may only be archived, never deleted.
plan_usage = Signal()

# sender=Asset, asset_ids=[...]: receivers return {asset_id: number of distinct buyer
# tenants holding an entitlement} (资产用户量).
asset_buyer_counts = Signal()


def plan_is_referenced(plan):
    return any(answer for _receiver, answer in plan_usage.send(sender=type(plan), plan=plan))


def buyer_tenant_counts(asset_ids):
    from .models import Asset

    counts = {}
    for _receiver, answer in asset_buyer_counts.send(sender=Asset, asset_ids=list(asset_ids)):
        for asset_id, count in (answer or {}).items():
            counts[asset_id] = counts.get(asset_id, 0) + count
    return counts


# sender=AssetRevision, revision=<AssetRevision>, actor=<User>: sent inside the transaction
# that stores a pending revision of a listed asset, so that the approvals app opens (or
# keeps) its review request in the same transaction: the queue and the revision commit
# together. Receivers return nothing.
revision_submitted = Signal()

# sender=AssetRevision, revision=<AssetRevision>, actor=<User>: the provider dropped every
# change (or withdrew); the approvals app closes the open request in the same transaction.
revision_discarded = Signal()

# sender=AssetRevision, asset_id=<int>: sent before a held edit locks the asset, so the
# approvals app locks the asset's pending requests first (by id), in the order a decision
# takes them (requests, then the asset): an edit and a decision never deadlock.
revision_locking = Signal()
