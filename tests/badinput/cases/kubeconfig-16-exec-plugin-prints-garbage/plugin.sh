#!/bin/sh
echo 'this is not an ExecCredential'
