namespace Uvdpa.Vhost.User;

/// <summary>enum VhostUserRequest: front-end → back-end message ids (QEMU docs/interop/vhost-user.rst, "Front-end message types"). Values are pinned by the protocol.</summary>
public enum FrontendRequest : uint
{
    /// <summary>VHOST_USER_NONE: invalid.</summary>
    None = 0,
    /// <summary>VHOST_USER_GET_FEATURES.</summary>
    GetFeatures = 1,
    /// <summary>VHOST_USER_SET_FEATURES.</summary>
    SetFeatures = 2,
    /// <summary>VHOST_USER_SET_OWNER.</summary>
    SetOwner = 3,
    /// <summary>VHOST_USER_RESET_OWNER.</summary>
    ResetOwner = 4,
    /// <summary>VHOST_USER_SET_MEM_TABLE.</summary>
    SetMemTable = 5,
    /// <summary>VHOST_USER_SET_LOG_BASE.</summary>
    SetLogBase = 6,
    /// <summary>VHOST_USER_SET_LOG_FD.</summary>
    SetLogFd = 7,
    /// <summary>VHOST_USER_SET_VRING_NUM.</summary>
    SetVringNum = 8,
    /// <summary>VHOST_USER_SET_VRING_ADDR.</summary>
    SetVringAddr = 9,
    /// <summary>VHOST_USER_SET_VRING_BASE.</summary>
    SetVringBase = 10,
    /// <summary>VHOST_USER_GET_VRING_BASE.</summary>
    GetVringBase = 11,
    /// <summary>VHOST_USER_SET_VRING_KICK.</summary>
    SetVringKick = 12,
    /// <summary>VHOST_USER_SET_VRING_CALL.</summary>
    SetVringCall = 13,
    /// <summary>VHOST_USER_SET_VRING_ERR.</summary>
    SetVringErr = 14,
    /// <summary>VHOST_USER_GET_PROTOCOL_FEATURES.</summary>
    GetProtocolFeatures = 15,
    /// <summary>VHOST_USER_SET_PROTOCOL_FEATURES.</summary>
    SetProtocolFeatures = 16,
    /// <summary>VHOST_USER_GET_QUEUE_NUM.</summary>
    GetQueueNum = 17,
    /// <summary>VHOST_USER_SET_VRING_ENABLE.</summary>
    SetVringEnable = 18,
    /// <summary>VHOST_USER_SEND_RARP.</summary>
    SendRarp = 19,
    /// <summary>VHOST_USER_NET_SET_MTU.</summary>
    NetSetMtu = 20,
    /// <summary>VHOST_USER_SET_BACKEND_REQ_FD (ex SET_SLAVE_REQ_FD).</summary>
    SetBackendReqFd = 21,
    /// <summary>VHOST_USER_IOTLB_MSG.</summary>
    IotlbMsg = 22,
    /// <summary>VHOST_USER_SET_VRING_ENDIAN.</summary>
    SetVringEndian = 23,
    /// <summary>VHOST_USER_GET_CONFIG.</summary>
    GetConfig = 24,
    /// <summary>VHOST_USER_SET_CONFIG.</summary>
    SetConfig = 25,
    /// <summary>VHOST_USER_CREATE_CRYPTO_SESSION.</summary>
    CreateCryptoSession = 26,
    /// <summary>VHOST_USER_CLOSE_CRYPTO_SESSION.</summary>
    CloseCryptoSession = 27,
    /// <summary>VHOST_USER_POSTCOPY_ADVISE.</summary>
    PostcopyAdvise = 28,
    /// <summary>VHOST_USER_POSTCOPY_LISTEN.</summary>
    PostcopyListen = 29,
    /// <summary>VHOST_USER_POSTCOPY_END.</summary>
    PostcopyEnd = 30,
    /// <summary>VHOST_USER_GET_INFLIGHT_FD.</summary>
    GetInflightFd = 31,
    /// <summary>VHOST_USER_SET_INFLIGHT_FD.</summary>
    SetInflightFd = 32,
    /// <summary>VHOST_USER_GPU_SET_SOCKET.</summary>
    GpuSetSocket = 33,
    /// <summary>VHOST_USER_RESET_DEVICE.</summary>
    ResetDevice = 34,
    /// <summary>VHOST_USER_VRING_KICK.</summary>
    VringKick = 35,
    /// <summary>VHOST_USER_GET_MAX_MEM_SLOTS.</summary>
    GetMaxMemSlots = 36,
    /// <summary>VHOST_USER_ADD_MEM_REG.</summary>
    AddMemReg = 37,
    /// <summary>VHOST_USER_REM_MEM_REG.</summary>
    RemMemReg = 38,
    /// <summary>VHOST_USER_SET_STATUS.</summary>
    SetStatus = 39,
    /// <summary>VHOST_USER_GET_STATUS.</summary>
    GetStatus = 40,
}

/// <summary>VHOST_USER_PROTOCOL_F_* bits (vhost-user.rst "Protocol features").</summary>
[Flags]
public enum ProtocolFeatures : ulong
{
    /// <summary>No protocol features.</summary>
    None = 0,
    /// <summary>VHOST_USER_PROTOCOL_F_MQ (bit 0).</summary>
    Mq = 1UL << 0,
    /// <summary>VHOST_USER_PROTOCOL_F_LOG_SHMFD (bit 1).</summary>
    LogShmfd = 1UL << 1,
    /// <summary>VHOST_USER_PROTOCOL_F_RARP (bit 2).</summary>
    Rarp = 1UL << 2,
    /// <summary>VHOST_USER_PROTOCOL_F_REPLY_ACK (bit 3).</summary>
    ReplyAck = 1UL << 3,
    /// <summary>VHOST_USER_PROTOCOL_F_NET_MTU (bit 4).</summary>
    NetMtu = 1UL << 4,
    /// <summary>VHOST_USER_PROTOCOL_F_BACKEND_REQ (bit 5).</summary>
    BackendReq = 1UL << 5,
    /// <summary>VHOST_USER_PROTOCOL_F_CROSS_ENDIAN (bit 6).</summary>
    CrossEndian = 1UL << 6,
    /// <summary>VHOST_USER_PROTOCOL_F_CRYPTO_SESSION (bit 7).</summary>
    CryptoSession = 1UL << 7,
    /// <summary>VHOST_USER_PROTOCOL_F_PAGEFAULT (bit 8).</summary>
    PageFault = 1UL << 8,
    /// <summary>VHOST_USER_PROTOCOL_F_CONFIG (bit 9).</summary>
    Config = 1UL << 9,
    /// <summary>VHOST_USER_PROTOCOL_F_BACKEND_SEND_FD (bit 10).</summary>
    BackendSendFd = 1UL << 10,
    /// <summary>VHOST_USER_PROTOCOL_F_HOST_NOTIFIER (bit 11).</summary>
    HostNotifier = 1UL << 11,
    /// <summary>VHOST_USER_PROTOCOL_F_INFLIGHT_SHMFD (bit 12).</summary>
    InflightShmfd = 1UL << 12,
    /// <summary>VHOST_USER_PROTOCOL_F_RESET_DEVICE (bit 13).</summary>
    ResetDevice = 1UL << 13,
    /// <summary>VHOST_USER_PROTOCOL_F_INBAND_NOTIFICATIONS (bit 14).</summary>
    InbandNotifications = 1UL << 14,
    /// <summary>VHOST_USER_PROTOCOL_F_CONFIGURE_MEM_SLOTS (bit 15).</summary>
    ConfigureMemSlots = 1UL << 15,
    /// <summary>VHOST_USER_PROTOCOL_F_STATUS (bit 16).</summary>
    Status = 1UL << 16,
}
