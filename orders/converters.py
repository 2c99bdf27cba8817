"""URL converters for order codes, registered once when the app is ready."""

from django.urls import register_converter


class OrderCodeConverter:
    regex = r"AOID-[0-9A-Za-z]{11}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


def register() -> None:
    register_converter(OrderCodeConverter, "order_code")
