"""{% vite_entry "src/dispatch/main.js" %}: the tags of a built front-end entry (see frontend.assets)."""

from django import template

from ..assets import entry_tags

register = template.Library()


@register.simple_tag
def vite_entry(entry: str):
    return entry_tags(entry)
