/**
 * @module
 * The wire contract as the client package publishes it (`@parley/client/protocol`): every frame
 * and event shape, the error codes, and the pure rules a client may want (room ids, limits,
 * lengths as the server counts them). The server is written against the same module.
 */
export type {
	AckFrame,
	AnyServerFrame,
	BatchFrame,
	ClientFrame,
	CopyOrigin,
	DeletedFrame,
	DeleteFrame,
	ErrorFrame,
	EventsPage,
	Feature,
	FeatureFrame,
	MembersPage,
	MessageEvent,
	PresenceFrame,
	PresenceMode,
	PresenceUpdateFrame,
	RetractEvent,
	RetractReason,
	RoomEvent,
	RoomLimits,
	RoomPolicy,
	SagaFrame,
	SagaState,
	SendFrame,
	SendInput,
	SendResult,
	ServerFrame,
	SyncedFrame,
	UserRef,
	WelcomeFrame,
} from "../src/protocol.ts";
export {
	codePointLength,
	DEFAULT_LIMITS,
	FEATURES,
	GUEST_NAME_PATTERN,
	isGuestId,
	isPresenceUpdate,
	isRoomId,
	MAX_CLIENT_ID_CHARS,
	MAX_CROSS_POSTS,
	ONLINE_SAMPLE,
	ROOM_ID_PATTERN,
	sendFrameBudget,
	SLOW_CONSUMER_CLOSE,
	TOKEN_EXPIRED_CLOSE,
	unpackBatch,
	utf8Bytes,
} from "../src/protocol.ts";
export type { ErrorBody, ErrorCode } from "../src/errors.ts";
export { ERROR_STATUS } from "../src/errors.ts";
