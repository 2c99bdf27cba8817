"""Demo assets for `manage.py seed_demo`: the seed's mem1 Memcached Operator. Idempotent."""

import io
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageDraw, ImageFont

from accounts.models import Tenant

from .models import Asset, Category, Plan
from .services import create_plan, register_asset

MEM1_DESCRIPTION = """\
Memcached 是国外社区网站 LiveJournal 的开发团队开发的高性能的分布式内存缓存服务器。\
一般的使用目的是，通过缓存数据库查询结果，减少数据库访问次数，以提高动态 Web 应用的速度、\
提高可扩展性。

### Memcached 特性

- 协议简单（文本行协议）
- 基于 libevent 事件处理：封装了 Linux 的 epoll、BSD 的 kqueue 等事件处理功能，\
即使连接数增加，也能发挥 O(1) 的性能
- 内置内存存储方式：存储在 memcached 内置的内存存储空间中，提高性能；\
memcached 或操作系统重启后数据会丢失，达到一定量后会自动删除不使用的缓存

### 核心能力

- 隐藏了高可用部署的复杂性
- operator 管理集群生命周期
- 对接公有云的出口代理能力

### 应用场景

- 高性能分布式缓存服务器：首次访问从 RDBMS 取得数据保存到 memcached，之后从 memcached 读取
- 页面缓存（Web 站常用）
- 热门数据缓存
- 临时数据处理

集群模式：分片（`sharded`，每个 key 只在一个节点）或副本（`replset`，每个节点都有全部 key），二选一。
"""

DEMO_PLANS = [
    # name, price, duration value, unit
    ("100¥/年", Decimal("100.00"), 1, Plan.DurationUnit.YEAR),
    ("免费试用", Decimal("0.00"), 30, Plan.DurationUnit.DAY),
]


def demo_icon():
    """A 96×96 PNG drawn here, so the demo needs no binary file in the repository."""
    image = Image.new("RGB", (96, 96), (20, 110, 140))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((6, 6, 89, 89), radius=18, fill=(32, 150, 180))
    try:
        font = ImageFont.load_default(size=52)
    except TypeError:  # Pillow without FreeType
        font = ImageFont.load_default()
    draw.text((48, 50), "M", fill="white", font=font, anchor="mm")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return SimpleUploadedFile("mem1.png", buffer.getvalue(), content_type="image/png")


def seed_demo_assets(*, provider):
    tenant = Tenant.objects.filter(slug="zs-olm").first()
    if tenant is None:
        return
    asset = Asset.objects.filter(tenant=tenant, name__iexact="mem1").first()
    if asset is None:
        asset = register_asset(
            actor=provider,
            tenant=tenant,
            icon=demo_icon(),
            delivery_type=Asset.DeliveryType.OPERATOR,
            category=Category.objects.get(slug="basic-apps"),
            name="mem1",
            summary="memcached cluster",
            description=MEM1_DESCRIPTION,
            website="https://tenxcloud.com",
            usage_help_markdown="memcached",
            terms_markdown="使用条款",
            customer_cases_markdown="客户案例",
        )
    for name, price, value, unit in DEMO_PLANS:
        if not Plan.objects.filter(asset=asset, name=name).exists():
            create_plan(
                actor=provider,
                asset=asset,
                name=name,
                price=price,
                duration_value=value,
                duration_unit=unit,
            )
    return asset
