from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "gisapp.accounts"
    label = "accounts"
    verbose_name = "账号与辖区 Accounts"
