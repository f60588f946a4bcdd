#!/bin/sh
echo 'login expired: run rigel-sso login' >&2
exit 7
