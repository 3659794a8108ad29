"""Thin receivers for allauth's account signals."""

from accounts.services import copy_email_to_person


def email_changed(sender, request, user, from_email_address, to_email_address, **kwargs):
    copy_email_to_person(user=user, email=to_email_address.email)
