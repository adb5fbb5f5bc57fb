# Copyright (c) mmdensekd contributors. All rights reserved.
