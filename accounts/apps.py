from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Accounts"

    def ready(self) -> None:
        from allauth.account.signals import email_changed

        from accounts import signals

        email_changed.connect(signals.email_changed, dispatch_uid="ceol_account_email_changed")
